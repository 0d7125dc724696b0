"""ALERT-1 end to end: a failed backup is raised in CLUSTERPRO's alert log and the Application event
log by the batch files themselves, on every example pair, through real pypsrp against the simulator."""

from __future__ import annotations

import pytest

from clpbackup import ClusterBackup, Plan
from clpbackup.results import RunResult, StatusResult
from clpbackup.testing import SimulatedCluster
from clpbackup.testing.model.eventlog import state as eventlog
from clpbackup.testing.model.ntbackup import state as ntbackup
from tests.helpers.plans import EXAMPLES, PLANS

pytestmark = pytest.mark.e2e

@pytest.fixture(params=list(PLANS), ids=list(PLANS))
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Plan:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "Pl4n-Passw0rd!")
    return Plan.from_file(EXAMPLES / PLANS[request.param])


def _local_job(plan: Plan) -> str:
    return next(name for name, job in plan.jobs.items() if job.scope == "local")


def fail_next_backup(sim: SimulatedCluster, node: str, job: str) -> None:
    """The next backup of ``job`` on ``node`` fails as Windows would: NTBackup's shadow copy fails
    (2003), or the job's share target cannot be reached ("The network path was not found.")."""
    plan = sim.plan
    spec = plan.jobs[job]
    if spec.ntbackup is not None:
        ntbackup(sim.node(node).model).faults.append("vss-error")
        return
    assert spec.target and spec.target.startswith("\\\\")
    sim.shares.unreachable.add(spec.target[2:].split("\\")[0].lower())


def test_a_failed_backup_leaves_one_alert_and_one_event_and_the_standby_303_none(plan: Plan) -> None:
    home, standby = plan.home_node.name, plan.standby_node.name
    job = _local_job(plan)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)  # a day of good runs, and the standby's switchover runs exit 303 (JOB-3)
        for n in (home, standby):
            assert eventlog(sim.node(n).model).application("clpbackup") == []
            assert eventlog(sim.node(n).model).alerts == []
        fail_next_backup(sim, home, job)
        result = cb.run_backup(job, home, timeout=120)
        run = result[home]  # type: ignore[index]
        assert isinstance(run, RunResult) and run.outcome == "failed", run
        log = f"{plan.scripts_dir}\\logs\\{job}.log"
        [event] = eventlog(sim.node(home).model).application("clpbackup")
        assert (event.event_id, event.entry_type) == (101, "Error")
        assert job in event.message and home in event.message and log in event.message
        assert "exit code 1;" in event.message and event.user.upper().endswith("SYSTEM")
        [alert] = eventlog(sim.node(home).model).alerts
        assert (alert.event_id, alert.level, alert.message) == (101, "ERR", event.message)
        assert eventlog(sim.node(standby).model).application("clpbackup") == []
        assert run.last_result == 1  # the task's Last Result stays the tool's own exit code
        # status reads the entry back in the request it already makes
        status = cb.status()
        a, b = status[home], status[standby]
        assert isinstance(a, StatusResult) and isinstance(b, StatusResult)
        assert a.events is not None and [(e.event_id, e.kind) for e in a.events] == [(101, "backup-failed")]
        assert a.events[0].message == event.message and b.events == []
        assert status.to_json()["nodes"][home]["events"][0]["event_id"] == 101
        sim.assert_all_simulated()


def test_without_clplogcmd_only_the_event_log_gets_the_failure(plan2012: Plan) -> None:
    sim_ = SimulatedCluster.from_plan(plan2012, clplogcmd={"node-a": False})
    with sim_ as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        fail_next_backup(sim, "node-a", "local-daily")
        cb.run_backup("local-daily", "node-a", timeout=120)
        model = sim.node("node-a").model
        assert [e.event_id for e in eventlog(model).application("clpbackup")] == [101]
        assert eventlog(model).alerts == []
        sim.assert_all_simulated()  # no "clplogcmd is not recognized": the batch file looked first


def test_a_failover_backup_that_cannot_be_scheduled_is_raised_as_103(plan2012: Plan) -> None:
    with SimulatedCluster.from_plan(plan2012) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        sim.node("node-b").model.schedule_state = "Stopped"  # the one-shot cannot be registered
        sim.failover()
        model = sim.node("node-b").model
        [event] = eventlog(model).application("clpbackup")
        assert event.event_id == 103 and "could not be scheduled on node-b" in event.message
        assert "logs\\failover.log" in event.message
        assert [a.event_id for a in eventlog(model).alerts] == [103]
        assert "0x80070426" in sim.node("node-b").files.read_text("C:\\clpbackup\\logs\\failover.log")


@pytest.fixture
def plan2012(monkeypatch: pytest.MonkeyPatch) -> Plan:
    """The 2012 pair with a CLUSTERPRO start script (FO-1), so a failover runs failover.bat."""
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "Pl4n-Passw0rd!")
    data = Plan.from_file(EXAMPLES / "ws2012-wsb.yaml").model_dump(mode="json", exclude_none=True)
    data["connection"]["password"] = {"env": "CLPBACKUP_PASSWORD"}
    data["cluster"]["start_script"] = "C:\\Program Files\\CLUSTERPRO\\scripts\\failover1\\script1\\start.bat"
    return Plan.from_dict(data)


def test_a_japanese_scripts_folder_reaches_the_event_log_and_status_intact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The message is in the node's code page (cp932 batch file); status reads it back unchanged."""
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "Pl4n-Passw0rd!")
    data = Plan.from_file(EXAMPLES / "ws2012-ja.yaml").model_dump(mode="json", exclude_none=True)
    data["connection"]["password"] = {"env": "CLPBACKUP_PASSWORD"}
    data["scripts_dir"] = "C:\\バックアップ管理"
    plan = Plan.from_dict(data)
    home = plan.home_node.name
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        fail_next_backup(sim, home, "local-daily")
        cb.run_backup("local-daily", home, timeout=120)
        log = "C:\\バックアップ管理\\logs\\local-daily.log"
        [event] = eventlog(sim.node(home).model).application("clpbackup")
        assert event.message.endswith(f"exit code 1; log {log}")
        [alert] = eventlog(sim.node(home).model).alerts
        assert alert.message == event.message
        a = cb.status(node=home)[home]
        assert isinstance(a, StatusResult) and a.events is not None
        assert [e.message for e in a.events] == [event.message]
        sim.assert_all_simulated()
