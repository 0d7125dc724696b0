"""LIVE-1: deploy and uninstall leave a batch file that a running task executes as it is.

cmd.exe reads a running batch file by byte offset (docs/windows-facts.md, "cmd.exe reads a running
batch file by byte offset"): a deploy that rewrote ``<job>.bat`` while its wbadmin ran made the run
go on in the middle of the new file's wbadmin line once wbadmin returned — ``…log" 2>&1`` ran as a
command (9009), ``set RC=%ERRORLEVEL%`` took that, and a good backup ended with exit code 9009 and a
false ALERT-1 event 101. Through real pypsrp against the simulated cluster, with backups that take
model time (``backup_duration``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clpbackup import ClusterBackup, Plan
from clpbackup.results import DeployResult, StatusResult
from clpbackup.testing import SimulatedCluster
from clpbackup.testing.model.eventlog import state as eventlog

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "plans" / "ws2012-wsb.yaml"
AT_EXAMPLE = ROOT / "examples" / "plans" / "ws2008r2-wsb.yaml"  # AT jobs (scheduler: at)
PASSWORD = "Live-Scr1pt!"
JOB = "local-daily"
TASK = "clpbackup-prod-db-local-daily"
BAT = r"C:\clpbackup\local-daily.bat"


def _with_more_include(plan: Plan) -> Plan:
    """The same plan with one more include in local-daily: its batch file gets longer before the
    line that follows wbadmin."""
    jobs = dict(plan.jobs)
    spec = plan.jobs[JOB]
    jobs[JOB] = spec.model_copy(update={"include": [*spec.include, "C:\\more"]})
    return plan.model_copy(update={"jobs": jobs})


def _start_backup(sim: SimulatedCluster) -> None:
    for n in sim.nodes:
        n.model.write_file(r"C:\more\notes.txt", "the folder the changed plan includes\r\n")
    node = sim.node("node-a").model
    rc, out, err = node.run_as("Administrator", f"schtasks /Run /TN {TASK}")
    assert rc == 0 and "SUCCESS" in out, err
    sim.advance()  # the run starts: wbadmin copies for an hour of model time
    task = node.scheduler.get(TASK)
    assert task is not None and task.running


def _task(sim: SimulatedCluster) -> tuple[bool, int | None]:
    task = sim.node("node-a").model.scheduler.get(TASK)
    assert task is not None
    return task.running, task.last_result


def test_deploy_leaves_the_running_jobs_batch_file_and_the_next_deploy_converges(
    sim_cluster: Callable[..., SimulatedCluster],
) -> None:
    sim = sim_cluster(EXAMPLE, password=PASSWORD, backup_duration=3600)
    node = sim.node("node-a").model
    with ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
    _start_backup(sim)
    before = node.fs.read_bytes(BAT)
    changed = _with_more_include(sim.plan)
    with ClusterBackup(changed) as cb:
        check = cb.deploy(check=True)
        held = check["node-a"]
        assert isinstance(held, DeployResult)
        [item] = [c for c in held.diff if c.action == "held"]
        assert item.kind == "file" and item.name == BAT
        assert item.after is not None and f"job {JOB}" in item.after and TASK in item.after
        assert [p.rule for p in held.problems] == ["LIVE-1"]
        assert "deploy again after the run ends" in held.problems[0].message

        result = cb.deploy()
        a, b = result["node-a"], result["node-b"]
        assert isinstance(a, DeployResult) and isinstance(b, DeployResult)
        assert not a.ok and [p.rule for p in a.problems] == ["LIVE-1"]
        assert BAT in a.problems[0].message and JOB in a.problems[0].message
        assert b.ok and any(c.name == BAT and c.action == "update" for c in b.diff)  # not running there
        assert node.fs.read_bytes(BAT) == before  # left under the running cmd.exe

        status = cb.status()["node-a"]
        assert isinstance(status, StatusResult)
        assert status.files[BAT] == "different"
        assert any(p.rule == "JOB-1" and "LIVE-1" in p.message and TASK in p.message for p in status.problems)

        sim.advance(hours=2)  # the backup ends
        assert _task(sim) == (False, 0)  # the run read the file it started with: a good backup is good
        run = next(r for r in node.history if r.program.startswith("(task)") and "local-daily" in r.arguments)
        assert run.rc == 0 and "is not recognized" not in run.err
        assert eventlog(node).application("clpbackup") == []  # and no false ALERT-1

        again = cb.deploy()["node-a"]
        assert isinstance(again, DeployResult) and again.ok
        assert [(c.name, c.action) for c in again.diff] == [(BAT, "update")]
        assert node.fs.read_bytes(BAT) != before
        idem = cb.deploy()["node-a"]
        assert isinstance(idem, DeployResult) and idem.ok and idem.diff == []  # IDEM-1
    sim.assert_all_simulated()


def test_uninstall_leaves_the_running_jobs_batch_file_and_task_until_the_run_ends(
    sim_cluster: Callable[..., SimulatedCluster],
) -> None:
    sim = sim_cluster(EXAMPLE, password=PASSWORD, backup_duration=3600)
    node = sim.node("node-a").model
    with ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        _start_backup(sim)
        gone = cb.deploy(state="absent")["node-a"]
        assert isinstance(gone, DeployResult)
        held = sorted((c.kind, c.name) for c in gone.diff if c.action == "held")
        assert held == [("file", BAT), ("schedule", TASK)]
        assert {p.rule for p in gone.problems} == {"LIVE-1"}
        assert node.fs.is_file(BAT) and node.scheduler.get(TASK) is not None
        assert not node.fs.is_file(r"C:\clpbackup\shared-daily.bat")  # the rest is gone

        sim.advance(hours=2)
        assert _task(sim) == (False, 0)
        run = next(r for r in node.history if r.program.startswith("(task)") and "local-daily" in r.arguments)
        assert "The batch file cannot be found." not in run.err  # the lines after wbadmin ran
        assert node.fs.is_file(r"C:\clpbackup\logs\local-daily-versions.txt")

        last = cb.deploy(state="absent")["node-a"]
        assert isinstance(last, DeployResult) and last.ok
        assert not node.fs.is_file(BAT) and node.scheduler.get(TASK) is None
    sim.assert_all_simulated()


def test_on_an_at_node_the_running_at_jobs_batch_file_is_left_too(
    sim_cluster: Callable[..., SimulatedCluster],
) -> None:
    """2008 R2 with AT: schtasks lists the AT job as At<N> with its status (Running while its run
    goes on); deploy reads it there (docs/windows-facts.md: unverified on 2003)."""
    sim = sim_cluster(AT_EXAMPLE, password=PASSWORD, backup_duration=3600)
    home = sim.plan.home_node.name
    node = sim.node(home).model
    job = next(name for name, spec in sim.plan.jobs.items() if spec.scope == "local")
    bat = f"{sim.plan.scripts_dir}\\{job}.bat"
    with ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
    [at] = [t for t in node.scheduler.tasks.values() if t.at_id is not None and bat in t.run]
    for n in sim.nodes:
        n.model.write_file(r"C:\more\notes.txt", "the folder the changed plan includes\r\n")
    rc, _out, err = node.run_as("Administrator", f"schtasks /Run /TN {at.name}")
    assert rc == 0, err
    sim.advance()
    assert at.running
    before = node.fs.read_bytes(bat)
    jobs = dict(sim.plan.jobs)
    jobs[job] = jobs[job].model_copy(update={"include": [*jobs[job].include, "C:\\more"]})
    with ClusterBackup(sim.plan.model_copy(update={"jobs": jobs})) as cb:
        res = cb.deploy()[home]
        assert isinstance(res, DeployResult)
        assert [p.rule for p in res.problems] == ["LIVE-1"] and at.name in res.problems[0].message
        assert node.fs.read_bytes(bat) == before
        sim.advance(hours=2)
        assert not at.running and at.last_result == 0
        again = cb.deploy()[home]
        assert isinstance(again, DeployResult) and again.ok and node.fs.read_bytes(bat) != before
    sim.assert_all_simulated()


def test_a_run_that_starts_between_the_read_and_the_apply_is_seen_under_the_lock(
    sim_cluster: Callable[..., SimulatedCluster], monkeypatch: pytest.MonkeyPatch
) -> None:
    """LOCK-1 + LIVE-1: the apply re-checks under the node lock that no task running a file it
    writes shows Running; a run that began after deploy's read makes the apply stale, deploy reads
    again and leaves the file."""
    sim = sim_cluster(EXAMPLE, password=PASSWORD, backup_duration=3600)
    node = sim.node("node-a").model
    with ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
    before = node.fs.read_bytes(BAT)
    original = ClusterBackup._read
    reads: list[str] = []

    def read_then_start(self: ClusterBackup, name: str, **kw: Any) -> Any:
        value = original(self, name, **kw)
        reads.append(name)
        if name == "node-a" and reads.count("node-a") == 1:
            _start_backup(sim)  # the nightly run begins after the read, before the apply
        return value

    monkeypatch.setattr(ClusterBackup, "_read", read_then_start)
    with ClusterBackup(_with_more_include(sim.plan)) as cb:
        res = cb.deploy(node="node-a")["node-a"]
    assert isinstance(res, DeployResult)
    assert reads.count("node-a") == 2  # the stale apply made deploy read again
    assert [p.rule for p in res.problems] == ["LIVE-1"]
    assert [(c.name, c.action) for c in res.diff] == [(BAT, "held")]
    assert node.fs.read_bytes(BAT) == before
    sim.advance(hours=2)
    assert _task(sim) == (False, 0)
    sim.assert_all_simulated()
