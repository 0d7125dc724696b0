"""Cluster operations end to end: ClusterBackup → real pypsrp → HTTP → clpbackup.testing.

Every personality of the guide (2003 NTBackup + AT, 2008 R2 WSB + AT, 2012 WSB + schtasks) and both
locales (the Japanese 2012 pair, code page 932). Assertions look at the simulated nodes' own state
(files, tasks, AT jobs, backup versions), not only at what clpbackup reports.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from clpbackup import ClusterBackup, Plan
from clpbackup.errors import ClpBackupError, ConnectionFailed, PreflightFailed
from clpbackup.results import DeployResult, RunResult, ScheduleResult, StatusResult
from clpbackup.rules import weekly_drill_jobs
from clpbackup.testing import SimulatedCluster
from tests.helpers.plans import EXAMPLES, PLANS

pytestmark = pytest.mark.e2e

PASSWORD = "Pl4n-Passw0rd!"


@pytest.fixture(params=list(PLANS), ids=list(PLANS))
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Plan:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    return Plan.from_file(EXAMPLES / PLANS[request.param])


@pytest.fixture
def plan2012(monkeypatch: pytest.MonkeyPatch) -> Plan:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    return Plan.from_file(EXAMPLES / "ws2012-wsb.yaml")


def own_files(sim: SimulatedCluster, node: str, plan: Plan) -> list[str]:
    files = sim.node(node).files
    return files.listdir(plan.scripts_dir) if files.exists(plan.scripts_dir) else []


def scheduled(sim: SimulatedCluster, node: str) -> list[str]:
    """Every scheduled entry on the node (tasks and AT jobs), as the node's model holds them."""
    n = sim.node(node)
    return sorted([*n.tasks, *[f"at:{j}" for j in n.at_jobs]])


def test_check_mode_writes_nothing_and_shows_the_diff(plan: Plan) -> None:
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        before = {n.name: scheduled(sim, n.name) for n in plan.nodes}
        result = cb.deploy(check=True)
        # changed = would change in check mode (Ansible's convention); nothing is written (below)
        assert result.ok and result.changed and result.check
        for n in plan.nodes:
            value = result[n.name]
            assert isinstance(value, DeployResult) and value.check
            assert {c.action for c in value.diff} >= {"create"}
            assert own_files(sim, n.name, plan) == []
            assert scheduled(sim, n.name) == before[n.name]


def test_deploy_is_identical_on_both_nodes_and_idempotent(plan: Plan) -> None:
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        first = cb.deploy()
        assert first.ok and first.changed, first
        for n in plan.nodes:
            for f in cb.artifacts[n.name].files:
                if f.role == "start-fragment" and plan.cluster.start_script:
                    continue
                assert sim.node(n.name).files.read_bytes(f.path) == f.content
        # JOB-1: the same jobs on both nodes
        jobs = {n.name: sorted({s.job for s in cb.artifacts[n.name].schedules}) for n in plan.nodes}
        assert len({tuple(v) for v in jobs.values()}) == 1
        entries = {n.name: scheduled(sim, n.name) for n in plan.nodes}
        second = cb.deploy()
        assert second.ok and not second.changed, second
        assert {n.name: scheduled(sim, n.name) for n in plan.nodes} == entries  # IDEM-1: nothing added
        assert not sim.not_simulated


def test_deploy_round_trips_per_node(plan2012: Plan) -> None:
    with SimulatedCluster.from_plan(plan2012) as sim:
        with ClusterBackup(sim.plan) as cb:
            cb.deploy()
        full = {n: sim.node(n).requests for n in ("node-a", "node-b")}
        with ClusterBackup(sim.plan) as cb:
            cb.deploy()
        noop = {n: sim.node(n).requests - full[n] for n in full}
    # pool open 2 + inspect 2 + apply 2 + close 1; a no-op deploy skips the apply
    assert full == {"node-a": 7, "node-b": 7}
    assert noop == {"node-a": 5, "node-b": 5}


def test_one_node_down_does_not_hide_the_other_and_a_rerun_converges(plan: Plan) -> None:
    a, b = (n.name for n in plan.nodes)
    with SimulatedCluster.from_plan(plan) as sim:
        sim.node(b).inject("down")
        with ClusterBackup(sim.plan) as cb:
            result = cb.deploy()
        assert not result.ok
        assert isinstance(result[a], DeployResult) and result[a].changed
        assert isinstance(result[b], ConnectionFailed) and result[b].node == b
        assert own_files(sim, b, plan) == []
        sim.node(b).clear_faults()
        with ClusterBackup(sim.plan) as cb:
            again = cb.deploy()
        assert again.ok
        assert isinstance(again[a], DeployResult) and not again[a].changed
        assert isinstance(again[b], DeployResult) and again[b].changed


def test_status_after_a_day_reports_job3_as_expected(plan: Plan) -> None:
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        cb.deploy()
        sim.advance(hours=24)
        status = cb.status()
        assert status.ok, status
        standby = status[plan.standby_node.name]
        home = status[plan.home_node.name]
        assert isinstance(standby, StatusResult) and isinstance(home, StatusResult)
        assert home.owner is True and standby.owner is False
        daily = [s for s in standby.schedules if s.kind == "daily"]
        switchover = [s for s in daily if s.job in plan.switchover_jobs()]
        assert switchover and all("JOB-3" in s.verdict for s in switchover)
        assert all(s.last_result == 0 for s in home.schedules if s.kind == "daily"), home.schedules
        for job in plan.jobs:
            assert home.versions.get(job), (job, home.versions)
        # DRILL-2 (ws2019-wsb.yaml): a day from Monday, the Sunday drill has not run on either node
        weekly = [s for v in (home, standby) for s in v.schedules if s.kind == "weekly"]
        assert len(weekly) == 2 * len(weekly_drill_jobs(plan))
        assert all(s.verdict == "weekly drill, not run yet" for s in weekly), weekly


def test_share_versions_are_read_without_a_second_hop(plan2012: Plan) -> None:
    """The second hop: over NTLM a share refuses the session, so status never runs wbadmin against
    a share over WinRM; it reads what each run of the job (SYSTEM) recorded, in the same request.
    Before any run the versions are "not recorded yet" (a note), never "no backup"."""
    with SimulatedCluster.from_plan(plan2012) as sim, ClusterBackup(sim.plan) as cb:
        cb.deploy()
        first = cb.status()
        assert first.ok, first
        home = first["node-a"]
        assert isinstance(home, StatusResult) and home.versions == {j: None for j in plan2012.jobs}
        assert any(n.startswith("WSB-3: versions of local-daily") for n in home.notes), home.notes
        sim.advance(hours=24)
        status = cb.status()
        assert status.ok, status
        home, standby = status["node-a"], status["node-b"]
        assert isinstance(home, StatusResult) and isinstance(standby, StatusResult)
        assert all(home.versions[j] for j in plan2012.jobs), home.versions
        # the standby's JOB-3 run recorded its (empty) share folder: known, and empty
        assert standby.versions["local-daily"] and standby.versions["shared-daily"] is None
        assert not any("WSB-3" in n for n in [*home.notes, *standby.notes])
        for n in ("node-a", "node-b"):
            runs = sim.node(n).model.runs_of("wbadmin")
            assert runs and {r.user for r in runs} == {"SYSTEM"}, [(r.user, r.arguments) for r in runs]


def test_a_share_that_refuses_the_computer_account_is_a_clear_problem(plan2012: Plan) -> None:
    """The jobs run as SYSTEM, which reaches the share as the computer account: a share that does not
    grant it fails the backup and the recorded versions read; status names node, target and the fix."""
    with SimulatedCluster.from_plan(plan2012) as sim, ClusterBackup(sim.plan) as cb:
        cb.deploy()
        sim.shares.deny_computer_accounts.add("nas01")
        sim.advance(hours=24)
        status = cb.status()
        assert not status.ok
        home = status["node-a"]
        assert isinstance(home, StatusResult) and home.versions["local-daily"] is None
        wsb3 = [p for p in home.problems if p.rule == "WSB-3"]
        assert wsb3 and all(p.node == "node-a" for p in wsb3), home.problems
        text = next(p.message for p in wsb3 if "local-daily" in p.message)
        assert "\\\\nas01\\backup\\node-a" in text and "Access is denied." in text and "NODE-A$" in text
        assert any(p.rule == "BACKUP" and "Access is denied." in p.message for p in home.problems)
        source = cb.restore_source("E:")
        assert not source.ok and any(p.rule == "RS-1" for p in source.problems), source


def test_status_reports_drift_and_missing_schedules(plan2012: Plan) -> None:
    with SimulatedCluster.from_plan(plan2012) as sim, ClusterBackup(sim.plan) as cb:
        cb.deploy(node="node-a")
        status = cb.status()
        assert not status.ok
        lines = [str(p) for p in status.all_problems()]
        assert any("JOB-1" in line and "node-b" in line for line in lines), lines
        assert any("SCH-1" in line for line in lines), lines


def test_failover_backup_runs_on_the_new_owner_only_and_once(plan: Plan) -> None:
    home, standby = plan.home_node.name, plan.standby_node.name
    assert plan.failover_backup is not None
    job = plan.failover_backup.job
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        cb.deploy()
        sim.advance(hours=24)
        sim.failover()
        assert sim.owner == standby
        result = cb.failover_backup(at="now")
        assert result.ok and result.changed, result
        assert isinstance(result[home], ScheduleResult) and not result[home].changed
        assert isinstance(result[standby], ScheduleResult) and result[standby].changed
        source = cb.restore_source(plan.cluster.switchover_volumes[0])
        assert source.ok and source.node == standby, source
        assert source.job == job and source.version
        # RS-1: the new owner's backup is the newest one
        assert source.candidates[standby] == source.version


def test_failover_backup_at_a_time_is_idempotent_and_checked_against_sch3(plan2012: Plan) -> None:
    with SimulatedCluster.from_plan(plan2012) as sim, ClusterBackup(sim.plan) as cb:
        cb.deploy()
        sim.failover()
        first = cb.failover_backup(at="06:00")
        assert first.changed
        tasks = scheduled(sim, "node-b")
        second = cb.failover_backup(at="06:00")
        assert not second.changed and scheduled(sim, "node-b") == tasks
        with pytest.raises(ClpBackupError, match="SCH-3"):
            cb.failover_backup(at="03:30")


def test_failback_backup_on_the_home_node(plan: Plan) -> None:
    home = plan.home_node.name
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        cb.deploy()
        sim.failover()
        sim.failback()
        assert sim.owner == home
        result = cb.failback_backup()
        assert result.ok, result
        value = result[home]
        assert isinstance(value, ScheduleResult) and value.changed


def test_owner_unknown_refuses_and_starts_nothing(plan2012: Plan) -> None:
    with SimulatedCluster.from_plan(plan2012, clpstat=False) as sim, ClusterBackup(sim.plan) as cb:
        cb.deploy()
        sim.node("node-b").inject("down")
        tasks = scheduled(sim, "node-a")
        result = cb.failover_backup(at="now")
        assert not result.ok and not result.changed
        assert any("FO-2" in str(p) for p in result.all_problems())
        assert scheduled(sim, "node-a") == tasks


def test_run_backup_of_a_switchover_job_runs_on_the_owner(plan2012: Plan) -> None:
    with SimulatedCluster.from_plan(plan2012) as sim, ClusterBackup(sim.plan, poll_initial=0.01) as cb:
        cb.deploy()
        result = cb.run_backup("shared-daily")
        assert not isinstance(result, ClpBackupError)
        assert list(result) == ["node-a"]
        value = result["node-a"]
        assert isinstance(value, RunResult) and value.outcome == "success" and value.version
        handle = cb.run_backup("local-daily", wait=False)
        assert not isinstance(handle, type(result))
        done = handle.wait(timeout=30)  # type: ignore[union-attr]
        assert done.ok and {v.outcome for v in done.values() if isinstance(v, RunResult)} == {"success"}


def test_start_script_block_is_managed_and_failover_runs_the_backup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    plan = Plan.from_file(EXAMPLES / "ws2008r2-wsb.yaml")
    script = plan.cluster.start_script
    assert script
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        original = sim.node("erp1").files.read_text(script)
        cb.deploy()
        text = sim.node("erp1").files.read_text(script)
        assert "rem >>> clpbackup" in text and "FAILOVER" in text
        # every line of the operator's script is kept
        assert all(line in text for line in original.splitlines() if line)
        assert not cb.deploy().changed
        versions_before = len(sim.node("erp2").model.history)
        sim.failover()  # CLUSTERPRO runs the start script with CLP_EVENT=FAILOVER (FO-1)
        sim.advance(minutes=1)
        assert len(sim.node("erp2").model.history) > versions_before
        # FO-1: the block sits where a FAILOVER run passes (the seeded script has NEC's error branch
        # with EXIT /B 1 before :NORMAL), failover.bat ran, and its console is gone (START of a
        # batch file would leave a cmd /K behind on every failover)
        model = sim.node("erp2").model
        assert any(p.lower().endswith("\\failover.bat") for p in model.batches_run), model.batches_run
        assert model.processes == []
        status = cb.status()
        erp2 = status["erp2"]
        assert isinstance(erp2, StatusResult) and erp2.owner is True
        assert erp2.versions.get("erp-data"), erp2.versions


def _ja_with_start_script(monkeypatch: pytest.MonkeyPatch, plan_file: str = "ws2012-ja.yaml") -> Plan:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    data = Plan.from_file(EXAMPLES / plan_file).model_dump(mode="json", exclude_none=True)
    data["connection"]["password"] = {"env": "CLPBACKUP_PASSWORD"}
    data["cluster"]["start_script"] = "C:\\Program Files\\CLUSTERPRO\\scripts\\failover1\\script1\\start.bat"
    return Plan.from_dict(data)


def test_start_script_bytes_outside_the_block_are_kept_cp932(monkeypatch: pytest.MonkeyPatch) -> None:
    """FO-1: cp932 FA 4A (a duplicate of 87 54) and the operator's LF line ends survive deploy."""
    plan = _ja_with_start_script(monkeypatch)
    script = plan.cluster.start_script
    assert script
    original = (
        "@echo off\nrem 起動スクリプト \u2170\r\n".encode("cp932")
        + b"rem \xfa\x4a\r\n"
        + b'IF "%CLP_EVENT%" == "START" GOTO NORMAL\n'
        + b'IF "%CLP_EVENT%" == "FAILOVER" GOTO NORMAL\n'
        + b"EXIT /B 1\n:NORMAL\nEXIT /B 0\n"
    )
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        for n in plan.nodes:
            sim.node(n.name).files.write(script, original)
        assert cb.deploy().ok
        for n in plan.nodes:
            after = sim.node(n.name).files.read_bytes(script)
            fragment = cb.artifacts[n.name].file("start-fragment").content
            assert fragment in after
            assert after.replace(fragment, b"") == original
        assert not cb.deploy().changed


def test_status_says_when_the_start_script_lacks_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """FO-1: CLUSTERPRO writes the start script from its configuration when it is applied; a block
    added only on the node is gone then, and status must say so."""
    plan = _ja_with_start_script(monkeypatch)
    script = plan.cluster.start_script
    assert script
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        standby = plan.standby_node.name
        configured = sim.node(standby).files.read_bytes(script)
        cb.deploy()
        status = cb.status()
        assert not [p for p in status.all_problems() if p.rule == "FO-1"], status.all_problems()
        sim.node(standby).files.write(script, configured)  # "Apply the Configuration File"
        status = cb.status()
        problems = [p for p in status.all_problems() if p.rule == "FO-1"]
        assert [p.node for p in problems] == [standby], status.all_problems()
        assert "no clpbackup block" in problems[0].message and script in problems[0].message


@pytest.mark.parametrize("plan_file", ["ws2012-wsb.yaml", "ws2012-ja.yaml", "ws2003-ntbackup.yaml"])
def test_a_failover_after_the_one_shot_time_backs_up_at_its_next_occurrence_fo2(
    monkeypatch: pytest.MonkeyPatch, plan_file: str
) -> None:
    """FO-2: schtasks /SC ONCE /ST without /SD is for today; after that time it never runs (Windows
    only warns). The failover backup must run at the next occurrence of failover_backup.at."""
    plan = _ja_with_start_script(monkeypatch, plan_file)
    fb = plan.failover_backup
    assert fb is not None and fb.at != "now"
    standby = plan.standby_node.name
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        sim.advance(hours=12)  # 12:00 on the nodes' clock: after failover_backup.at
        sim.failover()  # the start script runs failover.bat on the new owner (FO-1)
        failed_over = sim.clock.now()
        sim.advance(hours=24)
        hour, minute = (int(x) for x in fb.at.split(":"))
        due = (failed_over + timedelta(days=1)).replace(hour=hour, minute=minute, second=0, microsecond=0)
        model = sim.node(standby).model
        ran = [r for r in model.history if r.program.startswith("(task)") and r.when == due]
        assert ran, [(r.when, r.program, r.arguments) for r in model.history if r.when > failed_over]
        assert ran[0].rc == 0, ran


def test_two_failovers_before_the_one_shot_time_leave_one_pending_at_job_fo2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AT: failover.bat looks for its own pending one-shot (marked with its name) before adding one;
    two failovers onto the same node before 04:00 must not make two tape backups at 04:00."""
    plan = _ja_with_start_script(monkeypatch, "ws2003-ntbackup.yaml")
    fb = plan.failover_backup
    assert fb is not None and fb.at == "04:00"
    standby = plan.standby_node.name
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        sim.advance(hours=12)
        sim.failover()
        sim.advance(hours=1)
        sim.failback()
        sim.advance(hours=1)
        sim.failover()  # onto the same node again, before 04:00
        model = sim.node(standby).model
        once = [j for j in sim.node(standby).at_jobs if j.once_times]
        assert len(once) == 1, [(j.at_id, j.run) for j in sim.node(standby).at_jobs]
        assert "already pending" in sim.node(standby).files.read_text(
            plan.scripts_dir + "\\logs\\failover.log"
        )
        failed_over = sim.clock.now()
        sim.advance(hours=24)
        runs = [r for r in model.history if r.program == "ntbackup" and r.when > failed_over]
        assert [r.when.hour for r in runs].count(4) == 1, [(r.when, r.arguments) for r in runs]
        assert not model.not_simulated


def test_status_reports_a_one_shot_whose_time_passed_without_a_run_fo2(plan2012: Plan) -> None:
    """A one-shot made as clpbackup made it before (schtasks /SC ONCE /ST 06:00 at 12:00, no /SD):
    Windows warns, exits 0 and never runs it. status says so (FO-2) instead of showing it pending."""
    from clpbackup.render import once_schedule, task_name

    home = plan2012.home_node.name
    with SimulatedCluster.from_plan(plan2012) as sim, ClusterBackup(sim.plan) as cb:
        cb.deploy()
        sim.advance(hours=12)
        name = task_name(plan2012, "shared-daily", once=True)
        run = once_schedule(plan2012, home, "shared-daily", "06:00").run
        rc, out, _ = sim.node(home).model.run_command_line(
            f'schtasks /Create /TN {name} /SC ONCE /ST 06:00 /TR "{run.replace(chr(34), chr(92) + chr(34))}" '
            "/RU SYSTEM /F"
        )
        assert rc == 0 and b"WARNING: Task may not run because /ST is earlier than current time." in out
        sim.advance(hours=1)
        status = cb.status()
        problems = [p for p in status.all_problems() if p.rule == "FO-2"]
        assert [p.node for p in problems] == [home], status.all_problems()
        assert name in problems[0].message and "06:00" in problems[0].message
        # scheduling the failover backup again replaces it with one at the next 06:00
        again = cb.failover_backup(at="06:00")
        assert again.changed, again
        sim.advance(hours=18)
        assert [when.hour for when, _ in sim.node(home).tasks[name].runs] == [6]


def test_wsb_missing_is_refused_with_the_install_command_os3(plan2012: Plan) -> None:
    with (
        SimulatedCluster.from_plan(plan2012, wsb_installed={"node-b": False}) as sim,
        ClusterBackup(sim.plan) as cb,
    ):
        result = cb.deploy()
        err = result["node-b"]
        assert isinstance(err, PreflightFailed) and err.rule == "OS-3"
        assert "Install-WindowsFeature Windows-Server-Backup" in str(err)
        assert own_files(sim, "node-b", plan2012) == []
        assert isinstance(result["node-a"], DeployResult) and result["node-a"].changed


def test_schedule_service_is_checked_and_fixed_only_when_asked_sch4(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    plan = Plan.from_file(EXAMPLES / "ws2008r2-wsb.yaml")
    with SimulatedCluster.from_plan(plan, schedule_running={"erp2": False}) as sim:
        with ClusterBackup(sim.plan) as cb:
            result = cb.deploy()
        err = result["erp2"]
        assert isinstance(err, PreflightFailed) and err.rule == "SCH-4"
        assert sim.node("erp2").at_jobs == []
        with ClusterBackup(sim.plan, fix_schedule_service=True) as cb:
            fixed = cb.deploy()
        assert fixed.ok, fixed
        assert len(sim.node("erp2").at_jobs) == len(cb.artifacts["erp2"].schedules)


def _variant(plan: Plan, **changes: object) -> dict[str, object]:
    """The plan as a dict (password by its environment variable), for a variant with wrong facts."""
    data = plan.model_dump(mode="json", exclude_none=True)
    data["connection"]["password"] = {"env": "CLPBACKUP_PASSWORD"}
    data.update(changes)
    return data


@pytest.mark.parametrize(("planned", "real"), [("2012", "2012R2"), ("2016", "2019"), ("2022", "2019")])
def test_a_release_of_the_2012_family_is_checked_against_the_node_os1(
    planned: str, real: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2012 R2 is no longer planned as 2012, and 2016 / 2019 / 2022 (all kernel 10.0) differ by build
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    data = Plan.from_file(EXAMPLES / "ws2019-wsb.yaml").model_dump(mode="json", exclude_none=True)
    data["connection"]["password"] = {"env": "CLPBACKUP_PASSWORD"}
    for n in data["nodes"]:
        n["os"] = real
    with SimulatedCluster.from_plan(Plan.from_dict(data)) as sim:
        wrong = _variant(sim.plan)
        wrong["nodes"][1]["os"] = planned  # type: ignore[index]
        with ClusterBackup(Plan.from_dict(wrong)) as cb:
            result = cb.deploy(check=True)
        err = result["node-b"]
        assert isinstance(err, PreflightFailed) and err.rule == "OS-1"
        assert f"the plan says Windows Server {planned}" in str(err)
        assert f"Windows Server {real[:4]}" in str(err)  # the node's caption
        assert not isinstance(result["node-a"], PreflightFailed)


def test_os_and_codepage_mismatch_are_refused(plan2012: Plan) -> None:
    with SimulatedCluster.from_plan(plan2012) as sim:
        wrong_os = _variant(sim.plan, scheduler="schtasks")
        wrong_os["nodes"][1]["os"] = "2008R2"  # type: ignore[index]
        with ClusterBackup(Plan.from_dict(wrong_os)) as cb:
            result = cb.deploy(check=True)
        err = result["node-b"]
        assert isinstance(err, PreflightFailed) and err.rule == "OS-1" and "2008R2" in str(err)
        wrong_cp = _variant(sim.plan)
        wrong_cp["connection"]["codepage"] = 932  # type: ignore[index]
        with ClusterBackup(Plan.from_dict(wrong_cp)) as cb:
            result = cb.deploy(check=True)
        err = result["node-a"]
        assert isinstance(err, PreflightFailed) and "code page" in str(err) and "437" in str(err)
        assert own_files(sim, "node-a", plan2012) == []


def test_status_right_after_failover_keeps_job3_expected(plan: Plan) -> None:
    """The new owner's last switchover run failed while it was the standby: still JOB-3, not a failure."""
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        cb.deploy()
        sim.advance(hours=24)
        sim.failover()
        status = cb.status()
        new_owner = status[plan.standby_node.name]
        assert isinstance(new_owner, StatusResult) and new_owner.owner is True
        switchover = [
            s for s in new_owner.schedules if s.job in plan.switchover_jobs() and s.kind == "daily"
        ]
        assert switchover and all("JOB-3" in s.verdict for s in switchover), switchover
        assert status.ok, status


def test_one_shots_in_check_mode_change_nothing(plan2012: Plan) -> None:
    with SimulatedCluster.from_plan(plan2012) as sim, ClusterBackup(sim.plan) as cb:
        cb.deploy()
        sim.failover()
        tasks = scheduled(sim, "node-b")
        result = cb.failover_backup(at="06:00", check=True)
        value = result["node-b"]
        assert isinstance(value, ScheduleResult) and value.changed  # would change; nothing written
        assert value.action.startswith("would be scheduled at 06:00")
        assert scheduled(sim, "node-b") == tasks
        back = cb.failback_backup(check=True)
        assert back.changed and back.check and scheduled(sim, "node-b") == tasks


@pytest.mark.parametrize("name", ["ws2008r2-wsb.yaml", "ws2012-wsb.yaml"])
def test_install_features_installs_wsb_then_deploys_os3(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    plan = Plan.from_file(EXAMPLES / name)
    b = plan.standby_node.name
    with SimulatedCluster.from_plan(plan, wsb_installed={b: False}) as sim:
        with ClusterBackup(sim.plan, install_features=True) as cb:
            check = cb.deploy(check=True)
            assert isinstance(check[b], DeployResult) and check[b].ok, check  # no false SCH-4
            assert not sim.node(b).model.wsb_installed
            result = cb.deploy()
        assert result.ok, result
        assert sim.node(b).model.wsb_installed
        assert not sim.not_simulated


def test_status_reports_the_one_shot_with_its_job(plan2012: Plan) -> None:
    with SimulatedCluster.from_plan(plan2012) as sim, ClusterBackup(sim.plan) as cb:
        cb.deploy()
        sim.failover()
        cb.failover_backup(at="now")
        status = cb.status()
        b = status["node-b"]
        assert isinstance(b, StatusResult)
        once = [s for s in b.schedules if s.state == "one-shot"]
        assert [s.job for s in once] == ["shared-daily"]
        assert once[0].verdict.startswith("one-shot backup (FO-2/FB-1): last run succeeded"), once
        assert status.ok, status


# -- NTBackup selections (.bks) as NTBackup reads them (#17 item 2) ------------------------------------


@pytest.fixture
def plan2003(monkeypatch: pytest.MonkeyPatch) -> Plan:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    return Plan.from_file(EXAMPLES / "ws2003-ntbackup.yaml")


def _saved(sim: SimulatedCluster, node: str) -> set[str]:
    """Every file (and "System State") in any backup set NTBackup wrote on the node."""
    from clpbackup.testing.model.ntbackup import state

    st = state(sim.node(node).model)
    sets = [s for t in [*st.tapes, *st.bkf.values()] for s in t.sets]
    return {f for s in sets for f in s.files} | {"System State" for s in sets if "SystemState" in s.items}


def test_ntbackup_backs_up_what_the_plan_selects(plan2003: Plan) -> None:
    # Fails with a .bks that starts with FF FE: NTBackup reads the mark as part of line 1, so the
    # switchover job's only line (E:\) names nothing and the backup "succeeds" with no set.
    with SimulatedCluster.from_plan(plan2003) as sim, ClusterBackup(sim.plan) as cb:
        home = sim.node("fs-01").files
        for path in ("C:\\data\\orders.db", "C:\\data\\sub\\x.txt", "E:\\shared\\doc.txt"):
            home.write(path, b"payload")
        assert cb.deploy().ok
        sim.advance(hours=24)
        saved = _saved(sim, "fs-01")
        # NT-2: ntbackup writes nothing to "> log": the job's log says where its report is
        text = sim.node("fs-01").files.read_text("C:\\clpbackup\\logs\\local-daily.log")
        assert "backupNN.log in C:\\WINDOWS\\system32\\config\\systemprofile\\Local Settings" in text
        assert {"C:\\data\\orders.db", "C:\\data\\sub\\x.txt", "E:\\shared\\doc.txt", "System State"} <= saved


@pytest.mark.parametrize(
    ("include", "why"),
    [
        ("C:\\data", "is a folder on fs-01: write it as 'C:\\\\data\\\\'"),
        ("C:\\nowhere\\", "is written as a folder but does not exist on fs-01"),
        ("C:\\nowhere.db", "exists neither as a folder nor as a file on fs-01"),
        ("C:\\data\\orders.db\\", "is written as a folder but is a file on fs-01"),
    ],
)
def test_deploy_refuses_a_bks_line_the_node_contradicts(plan2003: Plan, include: str, why: str) -> None:
    data = plan2003.model_dump(mode="json", exclude_none=True)
    data["jobs"]["local-daily"]["include"] = [include]
    data["connection"]["password"] = {"env": "CLPBACKUP_PASSWORD"}
    plan = Plan.from_dict(data)
    with SimulatedCluster.from_plan(plan, seed_data=False) as sim, ClusterBackup(sim.plan) as cb:
        for n in ("fs-01", "fs-02"):
            sim.node(n).files.write("C:\\data\\orders.db", b"payload")
        result = cb.deploy()
        assert not result.ok
        err = result["fs-01"]
        assert isinstance(err, PreflightFailed), err
        assert "NT-2" in str(err) and "jobs.local-daily.include[0]" in str(err) and why in str(err)
        assert own_files(sim, "fs-01", plan) == []  # nothing was written


def test_deploy_accepts_a_file_line_and_skips_the_absent_partition(plan2003: Plan) -> None:
    data = plan2003.model_dump(mode="json", exclude_none=True)
    data["jobs"]["local-daily"]["include"] = ["C:\\data\\orders.db"]
    data["jobs"]["shared-daily"]["include"] = ["E:\\shared\\"]
    data["connection"]["password"] = {"env": "CLPBACKUP_PASSWORD"}
    plan = Plan.from_dict(data)
    with SimulatedCluster.from_plan(plan, seed_data=False) as sim, ClusterBackup(sim.plan) as cb:
        for n in ("fs-01", "fs-02"):
            sim.node(n).files.write("C:\\data\\orders.db", b"payload")
        sim.node("fs-01").files.write("E:\\shared\\doc.txt", b"payload")
        result = cb.deploy()
        assert result.ok, result  # E:\shared\ is judged on fs-01 only (fs-02 has no E:)


# -- NTBackup's verdict is its own log, never its exit code (#17 item 1) ---------------------------------


def _ntbackup_fault(sim: SimulatedCluster, node: str) -> None:
    """The next ntbackup run on ``node`` stops after its set started, and still exits 0."""
    from clpbackup.testing.model.ntbackup import state

    state(sim.node(node).model).faults.append("ended-exit-0")


def test_status_fails_an_ntbackup_run_whose_log_failed_despite_exit_0(plan2003: Plan) -> None:
    # Before: status read only the task's Last Result (0) and said "last run succeeded".
    with SimulatedCluster.from_plan(plan2003) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        sim.advance(hours=22, minutes=59)
        _ntbackup_fault(sim, "fs-01")
        sim.advance(minutes=2)  # local-daily runs at 23:00 (fs-01: the fault)
        status = cb.status()
        a, b = status["fs-01"], status["fs-02"]
        assert isinstance(a, StatusResult) and isinstance(b, StatusResult)
        daily = next(s for s in a.schedules if s.job == "local-daily")
        assert daily.last_result == 0
        assert daily.verdict.startswith("failed") and "NTBackup's log" in daily.verdict, daily.verdict
        assert any(p.rule == "BACKUP" and "local-daily" in p.message for p in a.problems)
        assert a.versions["local-daily"] is None  # no good run: nothing to restore from
        assert b.versions["local-daily"] is not None and not status.ok


def test_run_backup_fails_an_ntbackup_run_whose_log_failed_despite_exit_0(plan2003: Plan) -> None:
    with SimulatedCluster.from_plan(plan2003) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        _ntbackup_fault(sim, "fs-01")
        result = cb.run_backup("shared-daily", timeout=60)
        run = result["fs-01"]  # type: ignore[index]
        assert isinstance(run, RunResult) and run.last_result == 0
        assert run.outcome == "failed" and "NTBackup's log" in (run.detail or ""), run
        sim.advance(minutes=1)  # a new last-run minute for the second run
        again = cb.run_backup("shared-daily", timeout=60)
        ok = again["fs-01"]  # type: ignore[index]
        assert isinstance(ok, RunResult) and ok.outcome == "success" and ok.version, ok


def test_restore_source_names_the_failover_one_shot_of_at_not_the_older_daily_run(plan2003: Plan) -> None:
    # Before: the AT one-shot (04:00) is gone once it ran, status read only task results, so the
    # newest "version" on fs-02 was its daily run (02:15) and RS-1 named that older set.
    with SimulatedCluster.from_plan(plan2003) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        sim.failover()
        assert cb.failover_backup().ok
        sim.advance(hours=4, minutes=1)  # 02:15 fs-02's daily shared run, 04:00 the one-shot
        status = cb.status()
        b = status["fs-02"]
        assert isinstance(b, StatusResult)
        assert b.versions["shared-daily"] == "2024-01-16 04:00", b.versions
        source = cb.restore_source("E:")
        assert source.node == "fs-02" and source.version == "2024-01-16 04:00", source
        sim.advance(hours=22, minutes=13)
        _ntbackup_fault(sim, "fs-02")
        sim.advance(minutes=2)  # the daily run at 02:15 fails, exit code 0
        source = cb.restore_source("E:")
        assert source.version == "2024-01-16 04:00", source  # never the failed run
