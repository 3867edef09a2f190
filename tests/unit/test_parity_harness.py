"""The parity harness's own rules (no gcloud needed): normalising, the README table, compare."""

from __future__ import annotations

from tests.e2e.parity import harness as h
from tests.e2e.parity.cases import CASES


def test_program_names_normalise_to_one_command_path() -> None:
    def err(text: str) -> str:
        return h.normalise(h.Result(1, "", text), gcloud_port=1, generated_ids=False).stderr

    assert err("ERROR: (gcloud.tasks.queues.create) x") == "ERROR: (PROG.queues.create) x"
    assert err("ERROR: (tasksctl.queues.create) x") == "ERROR: (PROG.queues.create) x"
    assert (
        err("ERROR: (gcloud.tasks.create-http-task) x") == "ERROR: (PROG.tasks.create-http-task) x"
    )
    assert (
        err("ERROR: (tasksctl.tasks.create-http-task) x")
        == "ERROR: (PROG.tasks.create-http-task) x"
    )
    assert err("ERROR: (gcloud.tasks) x") == err("ERROR: (tasksctl.tasks) x")
    assert err("ERROR: (gcloud) x") == err("ERROR: (tasksctl) x") == "ERROR: (PROG) x"
    notice = "ERROR: (gcloud.tasks.list) NOT_FOUND: gone." + h._UNAUTHENTICATED
    assert err(notice) == "ERROR: (PROG.tasks.list) NOT_FOUND: gone."


def test_uri_etag_and_generated_ids_normalise() -> None:
    result = h.Result(0, "http://127.0.0.1:42/v2/projects/p\netag: ACBIvf-g_6o=\n", "")
    out = h.normalise(result, gcloud_port=42, generated_ids=False).stdout
    assert out == "https://cloudtasks.googleapis.com/v2/projects/p\netag: <ETAG>\n"
    made = h.Result(0, "", "Created task [projects/p/locations/l/queues/q/tasks/1234567890123].\n")
    assert "tasks/<ID>]" in h.normalise(made, gcloud_port=1, generated_ids=True).stderr
    assert "tasks/<ID>]" not in h.normalise(made, gcloud_port=1, generated_ids=False).stderr


def test_compare_applies_only_documented_rules() -> None:
    rules = {"usage errors": 1, "name on stdout": 1, "ALREADY_EXISTS": 1}
    usage_g = h.Result(2, "", "ERROR: (PROG.x) unrecognized arguments: --y \n\nTo search...\n")
    usage_t = h.Result(2, "", "ERROR: (PROG.x) unrecognized arguments: --y \n")
    assert h.compare(usage_g, usage_t, rules) == []
    assert h.compare(usage_g, usage_t, {}) != []
    created_g = h.Result(0, "", "Created queue [l/q].\n")
    created_t = h.Result(0, "projects/p/locations/l/queues/q\n", "Created queue [l/q].\n")
    assert h.compare(created_g, created_t, rules) == []
    exists_g = h.Result(1, "", "ERROR: (PROG.x) ALREADY_EXISTS: Queue already exists.\n")
    exists_t = h.Result(3, "", "ERROR: (PROG.x) ALREADY_EXISTS: Queue already exists.\n")
    assert h.compare(exists_g, exists_t, rules) == []
    assert h.compare(exists_g, h.Result(2, "", exists_t.stderr), rules) != []
    diff = h.compare(h.Result(0, "a\n", ""), h.Result(0, "b\n", ""), rules)
    assert diff and "-a\n+b\n" in diff[0]


def test_readme_table_names_only_real_cases() -> None:
    rows = h.known_differences()
    topics = {row.topic for row in rows}
    assert {"usage errors", "name on stdout", "ALREADY_EXISTS"} <= topics
    ids = {case.id for case in CASES}
    listed = h.excused(rows)
    assert listed and set(listed) <= ids, sorted(set(listed) - ids)
    assert len(ids) == len(CASES), "case IDs must be unique"


def test_cases_cover_every_gcloud_tasks_command() -> None:
    commands = {
        " ".join(case.args[:2])
        if case.args[0] in ("queues", "locations", "cmek-config")
        else case.args[0]
        for case in CASES
    }
    expected = {
        "queues create", "queues update", "queues describe", "queues list", "queues delete",
        "queues pause", "queues resume", "queues purge", "queues get-iam-policy",
        "queues set-iam-policy", "queues add-iam-policy-binding",
        "queues remove-iam-policy-binding", "create-http-task", "create-app-engine-task",
        "list", "describe", "delete", "run", "buffer", "locations list", "locations describe",
        "cmek-config describe",
    }  # fmt: skip
    assert expected <= commands, sorted(expected - commands)
