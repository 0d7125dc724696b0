"""`clpbackup demo` (the README's main command) tells the whole story and exits 0 only when it held."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from clpbackup.plan import Plan
from clpbackup.rules import weekly_drill_jobs

pytestmark = pytest.mark.e2e
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plans"


def run(*args: str, env_password: bool = False) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if k != "CLPBACKUP_PASSWORD"}
    return subprocess.run(
        [sys.executable, "-m", "clpbackup", "demo", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_demo_on_the_default_plan() -> None:
    proc = run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for expected in ("deploy --check", "IDEM-1", "JOB-3", "FO-2", "RS-1", "FB-1", "Every step behaved"):
        assert expected in out
    assert "[FAILED]" not in out


@pytest.mark.parametrize(
    "plan",
    ["ws2003-ntbackup.yaml", "ws2008r2-wsb.yaml", "ws2012-ja.yaml", "ws2019-wsb.yaml", "ws2016-ja.yaml"],
)
def test_demo_on_the_other_examples(plan: str, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = run("--plan", str(EXAMPLES / plan))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[FAILED]" not in proc.stdout
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "unused")
    loaded = Plan.from_file(EXAMPLES / plan)
    drilled = weekly_drill_jobs(loaded)
    weekly_step = "the weekly drill (DRILL-2) runs on both nodes as its own task"
    if not drilled:
        assert weekly_step not in proc.stdout
        return
    # DRILL-2 (ws2019-wsb.yaml): a weekly run shown, pass [weekly task] for every drilled job on the
    # node that can drill it, and the standby of a switchover job leaving it to the owner (RS-1)
    assert weekly_step in proc.stdout
    home, standby = loaded.home_node.name, loaded.standby_node.name
    for job in drilled:
        nodes = [home] if loaded.jobs[job].scope == "switchover" else [home, standby]
        for node in nodes:
            assert f"[ok] {node}: {job}'s canary came back from its newest version (" in proc.stdout
            verdict = rf"^   {node}: {job}: pass at .* \(version \S+ by {node}\) \[weekly task\]$"
            assert re.search(verdict, proc.stdout, re.M), proc.stdout
        if loaded.jobs[job].scope == "switchover":
            assert f"[ok] {standby} ran the task but wrote no verdict for {job}" in proc.stdout
            assert re.search(rf"^   {standby}: {job}: RS-1: ", proc.stdout, re.M), proc.stdout


def test_the_weekly_drill_step_fails_when_a_node_did_not_run_its_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The demo's DRILL-2 checks can fail: a weekly task deleted on each node after deploy."""
    import io

    from clpbackup import render
    from clpbackup.demo import Story, _weekly_drill_steps
    from clpbackup.operations import ClusterBackup
    from clpbackup.testing import SimulatedCluster

    monkeypatch.setenv("CLPBACKUP_PASSWORD", "Demo-Weekly-Passw0rd!")
    plan = Plan.from_file(EXAMPLES / "ws2019-wsb.yaml")
    story = Story(io.StringIO())
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        home, standby = plan.home_node.name, plan.standby_node.name
        for node, job in ((home, "local-daily"), (standby, "shared-daily")):
            name = render.weekly_drill_task_name(plan, job)
            assert sim.node(node).model.run_command_line(f"schtasks /Delete /TN {name} /F")[0] == 0
        _weekly_drill_steps(plan, story, sim, cb)
    out = story.out.getvalue()
    assert "[FAILED] no problem on either node" in out
    assert f"[FAILED] {home}: local-daily's canary came back" in out
    assert f"[FAILED] {standby} ran the task but wrote no verdict for shared-daily" in out
    assert f"[ok] {home}: shared-daily's canary came back" in out
    assert len(story.failures) == 3, story.failures


def test_demo_with_a_plan_that_breaks_a_rule_exits_1(tmp_path: Path) -> None:
    text = (EXAMPLES / "ws2012-wsb.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(r"'\\nas01\backup\{node}-shared'", "'E:'"), encoding="utf-8")  # WSB-2
    proc = run("--plan", str(bad))
    assert proc.returncode == 1
    assert "[FAILED] no rule is broken" in proc.stdout


def test_demo_with_an_unreadable_plan_exits_2(tmp_path: Path) -> None:
    proc = run("--plan", str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2
