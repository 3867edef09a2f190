"""CLI start-up and round-trip latency: ``tasksctl --help`` and ``tasksctl queues list``.

Targets (issue 5): ``--help`` <= 150 ms (no grpc/google/aiohttp/yaml imported), ``queues list``
on a warm local engine <= 400 ms. ``queues list`` runs as a user would run it: backend
``local``, the engine found at its configured address (here a private engine on free loopback
ports, with 20 queues), no ``--endpoint``. Uses ``hyperfine`` when installed, else a bounded
Python timing loop. Writes ``bench/results/cli.md`` (and ``cli.json``).

    .venv/bin/python bench/bench_cli.py               # 20 runs per command
    .venv/bin/python bench/bench_cli.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGETS_MS = {"help": 150.0, "queues list": 400.0}
HEAVY = ("grpc", "google.protobuf", "google.cloud", "google.auth", "aiohttp", "yaml", "pydantic")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tasksctl_argv() -> list[str]:
    """The installed console script if there is one (what users run), else ``python -m``."""
    script = Path(sys.executable).with_name("tasksctl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tasksctl"]


def start_engine(data_dir: Path) -> tuple[subprocess.Popen[str], int]:
    port, http_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tasksctl",
            "engine",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--http-port",
            str(http_port),
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.stdout.readline().startswith("tasksctl engine ready"):
            return proc, port
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("the engine did not start")


def time_with_hyperfine(
    commands: dict[str, list[str]], runs: int, env: dict[str, str], workdir: Path
) -> dict[str, list[float]]:
    export = workdir / "hyperfine.json"
    argv = [
        "hyperfine",
        "--warmup",
        "3",
        "--runs",
        str(runs),
        "--export-json",
        str(export),
        "--style",
        "none",
        "-N",
    ]
    for name, cmd in commands.items():
        argv += ["--command-name", name, " ".join(cmd)]
    subprocess.run(argv, env=env, check=True, timeout=600, stdout=subprocess.DEVNULL)
    data = json.loads(export.read_text())
    return {r["command"]: [t * 1000 for t in r["times"]] for r in data["results"]}


def time_with_python(
    commands: dict[str, list[str]], runs: int, env: dict[str, str]
) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    for name, cmd in commands.items():
        times = []
        for i in range(runs + 3):
            start = time.perf_counter()
            subprocess.run(
                cmd,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
                timeout=60,
            )
            if i >= 3:  # warm-up runs are discarded
                times.append((time.perf_counter() - start) * 1000)
        results[name] = times
    return results


def heavy_modules_on_help(env: dict[str, str]) -> list[str]:
    code = (
        "import sys\nfrom tasksctl.cli.app import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('\\n'.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    return [line for line in out.stderr.splitlines() if line.strip()]


def import_breakdown(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Cumulative import time (ms) of the top-level modules ``queues list`` loads."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tasksctl", "queues", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    found: dict[str, float] = {}
    for line in out.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        if len(name) - len(name.lstrip()) != 1:  # only modules imported at the top level
            continue
        name = name.strip()
        found[name] = found.get(name, 0.0) + int(parts[1]) / 1000
    wanted = ("tasksctl.cli.app", "google.cloud.tasks_v2", "grpc", "yaml", "pydantic")
    return {name: round(found[name], 1) for name in wanted if name in found}


def summarize(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "runs": len(ordered),
        "min_ms": round(ordered[0], 1),
        "median_ms": round(statistics.median(ordered), 1),
        "mean_ms": round(statistics.fmean(ordered), 1),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per command (max 100)")
    parser.add_argument("--out", type=Path, default=RESULTS / "cli.md")
    args = parser.parse_args()
    runs = max(1, min(args.runs, 100))
    with tempfile.TemporaryDirectory(prefix="tasksctl-bench-cli-") as tmp:
        workdir = Path(tmp)
        engine, port = start_engine(workdir / "data")
        try:
            env = {
                **os.environ,
                "TASKSCTL_ENGINE_HOST": "127.0.0.1",
                "TASKSCTL_ENGINE_PORT": str(port),
                "TASKSCTL_NO_AUTOSTART": "1",
                "TASKSCTL_CONFIG_DIR": str(workdir / "config"),
                "NO_COLOR": "1",
            }
            for name in (
                "TASKSCTL_ENDPOINT",
                "CLOUD_TASKS_EMULATOR_HOST",
                "TASKSCTL_BACKEND",
                "TASKSCTL_PROJECT",
                "TASKSCTL_LOCATION",
            ):
                env.pop(name, None)
            argv = tasksctl_argv()
            for i in range(20):
                subprocess.run(
                    [*argv, "queues", "create", f"bench-{i:02d}"],
                    env=env,
                    check=True,
                    capture_output=True,
                    timeout=60,
                )
            listed = subprocess.run(
                [*argv, "queues", "list"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
            assert len(listed.stdout.splitlines()) == 21, listed.stdout
            commands = {"help": [*argv, "--help"], "queues list": [*argv, "queues", "list"]}
            tool = "hyperfine" if shutil.which("hyperfine") else "python loop"
            if tool == "hyperfine":
                raw = time_with_hyperfine(commands, runs, env, workdir)
            else:
                raw = time_with_python(commands, runs, env)
            heavy = heavy_modules_on_help(env)
            imports = import_breakdown(argv, env)
        finally:
            engine.terminate()
            engine.wait(15)
    report(raw, tool, heavy, imports, argv, args.out)


def report(
    raw: dict[str, list[float]],
    tool: str,
    heavy: list[str],
    imports: dict[str, float],
    argv: list[str],
    out: Path,
) -> None:
    summary = {name: summarize(times) for name, times in raw.items()}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# CLI latency (`bench/bench_cli.py`)",
        "",
        f"Measured with {tool}; command `{' '.join(Path(a).name for a in argv)}`; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{load:.2f} at the end of the run.",
        "",
        "| command | target | median | min | p90 | mean | runs | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        target = TARGETS_MS[name]
        verdict = "meets target" if s["median_ms"] <= target else "over target"
        lines.append(
            f"| `tasksctl {'--help' if name == 'help' else name}` | <= {target:.0f} ms | "
            f"{s['median_ms']} ms | {s['min_ms']} ms | {s['p90_ms']} ms | "
            f"{s['mean_ms']} ms | {s['runs']} | {verdict} |"
        )
    lines += [
        "",
        f"Heavy modules imported by `--help`: {', '.join(heavy) if heavy else 'none'} "
        f"(checked: {', '.join(HEAVY)}).",
        "",
        "`queues list` runs against a warm local engine holding 20 queues, found through "
        "`TASKSCTL_ENGINE_PORT` exactly as the default `local` backend finds it (TCP probe, "
        "then Google's `CloudTasksClient` over insecure gRPC), and prints gcloud's default table.",
        "",
        "Where `queues list` spends its import time (cumulative, one `-X importtime` run; "
        "`tasksctl.cli.app` includes typer): "
        + ", ".join(f"`{name}` {ms} ms" for name, ms in imports.items())
        + ". Google's client library is most of it; the rest is the RPC, the table and the "
        "interpreter itself.",
        "",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    out.with_suffix(".json").write_text(
        json.dumps(
            {"tool": tool, "summary": summary, "heavy_on_help": heavy, "imports_ms": imports},
            indent=2,
        )
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
