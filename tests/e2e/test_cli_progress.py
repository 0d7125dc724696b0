"""Progress and logs on long work (#13), through the real program against a slow simulated cluster:
per-node progress lines on stderr (nothing on stdout but the JSON), a bar on a terminal (tqdm is
optional), wbadmin's own percentages read from its log, ``-v`` and ``--log-file``."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from clpbackup.cli_progress import Reporter
from clpbackup.nodestate import NodeState, RunMarker, run_result
from clpbackup.parsers.schtasks import ScheduledTask
from clpbackup.parsers.wbadmin import copied_percent
from clpbackup.plan import Plan
from clpbackup.testing import SimulatedCluster
from clpbackup.testing.control import CONTROL_FILE
from clpbackup.testing.simulate_cli import plan_yaml

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "plans" / "ws2012-wsb.yaml"
FIXTURES = ROOT / "tests" / "fixtures" / "wbadmin"
PASSWORD = "Progress-0nly!"


def clp(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLPBACKUP_PASSWORD": PASSWORD, "CLPBACKUP_PROGRESS_INTERVAL": "0.2"}
    return subprocess.run(
        [sys.executable, "-m", "clpbackup", *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=180, check=False,
    )


def test_run_and_deploy_show_per_node_progress_on_stderr_only(
    sim_cluster: Callable[..., SimulatedCluster], tmp_path: Path
) -> None:
    sim = sim_cluster(EXAMPLE, password=PASSWORD, latency=0.4)
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_yaml(sim.plan), encoding="utf-8")
    log = tmp_path / "clpbackup.log"
    deploy = clp("deploy", str(plan), "--format", "json", "--log-file", str(log))
    assert deploy.returncode == 0, deploy.stderr
    assert json.loads(deploy.stdout)["operation"] == "deploy"  # stdout: the JSON and nothing else
    assert "clpbackup deploy: node-a: deploy, " in deploy.stderr, deploy.stderr
    assert "clpbackup deploy: node-b: deploy, " in deploy.stderr

    run = clp("run", str(plan), "--job", "local-daily", "--format", "json", "-v", "--log-file", str(log))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["operation"] == "run"
    assert "clpbackup run: node-a: " in run.stderr
    assert "clpbackup.cli: node-a: run started" in run.stderr  # -v: what was asked of which node
    logged = log.read_text(encoding="utf-8")
    for line in ("node-a: deploy started", "node-b: deploy done in ", "deploy finished in ",
                 "node-a: run done in ", "clpbackup.transport: node-a: runspace pool open"):
        assert line in logged, line
    assert PASSWORD not in logged and PASSWORD not in run.stderr + deploy.stderr

    quiet = clp("status", str(plan), "--no-progress")
    assert "clpbackup status:" not in quiet.stderr


def test_wbadmin_percentages_are_read_as_wbadmin_prints_them() -> None:
    """wbadmin rewrites "Creating a backup of volume …, copied (NN%)." as it goes (the 6.1-era form
    "Data(E:)" and the 2012+ form "(C:)"; shared/reference/outputs/wbadmin-start-backup_*)."""
    text = (FIXTURES / "2008r2-en-US" / "start-backup_local-success.txt").read_text(encoding="utf-8")
    head = text[: text.index("copied (41%)") + len("copied (41%).")]
    assert copied_percent(head) == 41
    assert copied_percent(text) == 100
    assert copied_percent("Creating a backup of volume (C:), copied (45%).\r") == 45
    assert copied_percent("Scanning the file system...\r\n") is None


def test_a_running_backup_reports_the_tools_percentage() -> None:
    plan = Plan.from_file(EXAMPLE)
    node = plan.nodes[0]
    art = plan.render()[node.name]
    task = ScheduledTask(
        name="clpbackup-prod-db-local-daily", host=None, next_run=None, status="Running", state="running",
        last_run=None, last_result=0x41301, author=None, task_to_run=None, run_as_user=None, enabled=True,
        triggers=(),
    )
    log = "Creating a backup of volume (C:), copied (37%).\r\n"
    state = NodeState(tasks=[task], logs={"local-daily": log})
    res = run_result(plan, node, art, state, "local-daily", RunMarker(task.name, None))
    assert res.outcome == "running" and res.progress == 37


def test_reporter_draws_a_bar_on_a_terminal_and_lines_without_tqdm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("tqdm")  # the test extra installs it; its absence is tested below
    stream = io.StringIO()
    with Reporter("run", stream=stream, bar=True, interval=0.05) as rep:
        rep("node-a", "start")
        rep("node-a", "running 42%")
        assert rep._bar is not None
    assert "node-a: running 42%" in stream.getvalue()

    import importlib

    real = importlib.import_module

    def no_tqdm(name: str, *a: object) -> object:
        if name == "tqdm":
            raise ImportError("no tqdm")
        return real(name, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib, "import_module", no_tqdm)
    stream = io.StringIO()
    import threading

    with Reporter("run", stream=stream, bar=True, interval=0.05) as rep:
        assert rep._bar is None
        rep("node-a", "start")
        rep("node-a", "running 42%")
        threading.Event().wait(0.3)
    assert "clpbackup run: node-a: running 42%, " in stream.getvalue()


@pytest.mark.slow  # ~15 s: the product looks after 2, 6 and 14 s while the copy lasts 10 s
def test_run_against_clpbackup_simulate_shows_wbadmins_percentages(tmp_path: Path) -> None:
    """`clpbackup run` against a `clpbackup simulate` whose backups take model time: per-node
    `running NN%` lines on stderr, read from the simulated wbadmin's log as it copies; stdout is the
    JSON alone. 20 model minutes at --speed 120 is 10 s of copying; the product looks after 2 s and
    6 s, so each node shows a percentage between 0 and 100 at least once."""
    env = {**os.environ, "CLPBACKUP_PASSWORD": PASSWORD, "CLPBACKUP_PROGRESS_INTERVAL": "0.3"}
    sim = subprocess.Popen(
        [sys.executable, "-m", "clpbackup", "simulate", str(EXAMPLE), "--write-plan", "plan.yaml",
         "--backup-duration", "20m", "--speed", "120"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / CONTROL_FILE).exists():
            assert sim.poll() is None, sim.stdout.read() if sim.stdout else ""
            assert time.monotonic() < deadline, "the simulator did not start"
            time.sleep(0.1)

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "clpbackup", *args], capture_output=True, text=True, cwd=tmp_path,
                env=env, timeout=180, check=False,
            )

        assert run("deploy", "plan.yaml", "--no-progress").returncode == 0
        result = run("run", "plan.yaml", "--job", "local-daily", "--format", "json")
        assert result.returncode == 0, result.stderr
        nodes = json.loads(result.stdout)["nodes"]  # stdout: the JSON and nothing else
        assert {n: v["outcome"] for n, v in nodes.items()} == {"node-a": "success", "node-b": "success"}
        seen = re.findall(r"^clpbackup run: (node-[ab]): running (\d+)%, ", result.stderr, re.M)
        assert {n for n, pct in seen if 0 < int(pct) < 100} == {"node-a", "node-b"}, result.stderr
        # the versions keep the backup's start (model time), not its end
        assert all(v["version"].startswith("01/15/2024-00:") for v in nodes.values())
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait()
