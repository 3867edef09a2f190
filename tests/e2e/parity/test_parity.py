"""gcloud parity: each case runs through real gcloud and through tasksctl and must look the same.

An unlisted difference fails; so does a case the README still lists once it no longer differs.
Run alone with ``python -m pytest -m gcloud``; cases run in a small thread pool on two private
engines (see harness.py), only the ones selected.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EngineProcess, make_client
from tests.e2e.parity import harness as h
from tests.e2e.parity.cases import CASES, shared_state

pytestmark = [
    pytest.mark.gcloud,
    pytest.mark.skipif(h.gcloud_path() is None, reason="gcloud is not installed"),
]
WORKERS = int(os.environ.get("PARITY_WORKERS", "4"))
BY_ID = {case.id: case for case in CASES}


class Side:
    """One tool and its own engine."""

    def __init__(self, name: str, engine: EngineProcess, env: dict[str, str], argv: list[str]):
        self.name = name
        self.engine = engine
        self.env = env
        self.argv = argv
        self.client = make_client(engine.address)

    def run(self, case: h.Case, workdir: Path) -> h.Result:
        where = workdir / self.name
        where.mkdir(parents=True, exist_ok=True)
        for filename, content in case.files.items():
            (where / filename).write_text(content)
        args = list(case.args) if self.name == "gcloud" else case.tasksctl_args()
        prefix = [*self.argv, "tasks"] if self.name == "gcloud" else self.argv
        return h.run([*prefix, *args], self.env, where, case.stdin, case.answer)


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Side, Side]]:
    base = tmp_path_factory.mktemp("parity")
    clock = ("--clock", "manual", "--clock-start", h.CLOCK_START)
    engines = [EngineProcess(base / f"data-{n}", *clock) for n in ("gcloud", "tasksctl")]
    try:
        for engine in engines:
            engine.start()
        gcloud_bin = h.gcloud_path()
        assert gcloud_bin is not None
        (base / "gcloud-config").mkdir()
        (base / "xdg").mkdir()
        gcloud = Side(
            "gcloud",
            engines[0],
            h.gcloud_env(engines[0].port, base / "gcloud-config"),
            [gcloud_bin],
        )
        tasksctl = Side(
            "tasksctl",
            engines[1],
            h.tasksctl_env(engines[1].address, base / "xdg"),
            h.tasksctl_argv(),
        )
        for side in (gcloud, tasksctl):
            shared_state(side.client)
        yield gcloud, tasksctl
    finally:
        for engine in engines:
            engine.kill()


@pytest.fixture(scope="module")
def results(
    request: pytest.FixtureRequest,
    sides: tuple[Side, Side],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[h.Result, h.Result] | BaseException]:
    """Every selected case, run once through both tools (in a small thread pool)."""
    selected = [
        item.callspec.params["case_id"]
        for item in request.session.items
        if hasattr(item, "callspec") and "case_id" in item.callspec.params
    ]
    gcloud, tasksctl = sides
    base = tmp_path_factory.mktemp("cases")

    def one(case_id: str) -> tuple[str, tuple[h.Result, h.Result] | BaseException]:
        case = BY_ID[case_id]
        outcome = []
        try:
            for side in (gcloud, tasksctl):
                if case.setup is not None:
                    case.setup(side.client)
                outcome.append(side.run(case, base / case.id))
        except Exception as exc:  # one broken case must not hide the others
            return case_id, exc
        g = h.normalise(
            outcome[0], gcloud_port=gcloud.engine.port, generated_ids=case.generated_ids
        )
        t = h.normalise(
            outcome[1], gcloud_port=gcloud.engine.port, generated_ids=case.generated_ids
        )
        return case_id, (g, t)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(pool.map(one, dict.fromkeys(selected)))


@pytest.fixture(scope="module")
def documented() -> dict[str, Any]:
    rows = h.known_differences()
    return {"excused": h.excused(rows), "rules": {row.topic: row for row in rows}}


@pytest.mark.parametrize("case_id", [case.id for case in CASES])
def test_same_as_gcloud(
    case_id: str,
    results: dict[str, tuple[h.Result, h.Result] | BaseException],
    documented: dict[str, Any],
) -> None:
    outcome = results[case_id]
    if isinstance(outcome, BaseException):
        raise outcome
    gcloud, tasksctl = outcome
    problems = h.compare(gcloud, tasksctl, documented["rules"])
    topic = documented["excused"].get(case_id)
    args = " ".join(BY_ID[case_id].args)
    if topic is None:
        assert not problems, (
            f"`gcloud tasks {args}` differs (not in the README table):\n" + "\n".join(problems)
        )
    else:
        assert problems, f"case {case_id} no longer differs: drop it from README row {topic!r}"
