"""The restore drill (DRILL-1) end to end, through real pypsrp against ``clpbackup.testing``."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from clpbackup import render
from clpbackup.errors import ConnectionFailed
from clpbackup.operations import ClusterBackup
from clpbackup.plan import Plan
from clpbackup.results import DrillResult, JobDrill, StatusResult
from clpbackup.testing.cluster import SimulatedCluster
from clpbackup.testing.model.wbadmin import WsbVersion, _versions

EXAMPLES = Path(__file__).resolve().parents[2] / "clpbackup" / "examples"
PLANS = {
    "2003": "ws2003-ntbackup.yaml",
    "2008R2": "ws2008r2-wsb.yaml",
    "2012": "ws2012-wsb.yaml",
    "ja": "ws2012-ja.yaml",
    "2016-ja": "ws2016-ja.yaml",
    "2019": "ws2019-wsb.yaml",
}
WSB = [k for k in PLANS if k != "2003"]


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> Plan:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "Dr1ll-Passw0rd!")
    return Plan.from_file(EXAMPLES / PLANS[name])


@pytest.mark.parametrize("name", WSB)
def test_each_run_writes_a_canary_the_backup_holds_and_records_its_token(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load(name, monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        owner = sim.node(sim.owner)
        for job in plan.jobs:
            where = render.canary_path(plan, job)
            assert where is not None
            text = owner.files.read_text(where[0]).split()
            assert text[:2] == ["clpbackup-canary", job]
            token = text[2]
            record = owner.files.read_text(render.canary_record_path(plan, job)).splitlines()
            assert record[-1].split()[0] == token
            # the newest version of the job holds the canary as this run wrote it
            held = [v for v in _all_versions(sim) if v.node == sim.owner and where[0] in v.files]
            assert held and held[-1].files[where[0]].split()[2] == token.encode()
        sim.assert_all_simulated()


def _all_versions(sim: SimulatedCluster) -> list[WsbVersion]:
    found = [v for store in sim.shares.shares.values() for v in _versions(store)]
    for node in sim.nodes:
        for vol in node.model.fs.volumes.values():
            found += _versions(vol)
    return sorted(found, key=lambda v: v.when)


@pytest.mark.parametrize("name", ["2003", "2012"])
def test_uninstall_deletes_the_canaries_and_leaves_a_file_that_is_not_one(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load(name, monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        owner = sim.node(sim.owner)
        paths = [w[0] for j in plan.jobs if (w := render.canary_path(plan, j)) is not None]
        assert paths and all(owner.files.exists(p) for p in paths)
        # an operator's file put where a canary was: not clpbackup's, so it stays (OWN-1)
        owner.files.write(paths[0], "my own notes\r\n")
        gone = cb.deploy(state="absent")
        for other in paths[1:]:
            assert not owner.files.exists(other), other
        assert owner.files.read_text(paths[0]) == "my own notes\r\n"
        assert any(c.name == paths[0] and c.action == "conflict" for c in gone[sim.owner].changes)


# -- the drill ------------------------------------------------------------------------------------------


def _drilled(result: object) -> dict[str, dict[str, JobDrill]]:
    out: dict[str, dict[str, JobDrill]] = {}
    for node, value in result.items():  # type: ignore[attr-defined]
        assert isinstance(value, DrillResult), value
        out[node] = {d.job: d for d in value.drills}
    return out


@pytest.mark.parametrize("name", WSB)
def test_drill_recovers_the_canary_and_reports_the_recovery_point(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load(name, monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan, poll_initial=0.01) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        owner, standby = sim.owner, sim.other
        restores = {n.name: len(n.model.restores) for n in sim.nodes}
        result = cb.drill()
        assert result.ok, result
        drilled = _drilled(result)
        for job, spec in plan.jobs.items():
            where = [owner] if spec.scope == "switchover" else [owner, standby]
            assert sorted(n for n in drilled if job in drilled[n]) == sorted(where)
            for n in where:
                d = drilled[n][job]
                assert d.verdict == "pass", d
                assert d.machine == n and d.version and d.recovery_point and d.age_minutes is not None
                assert d.age_minutes >= 0 and d.seconds is not None and d.token
                assert "successfully" in d.message or "正常" in d.message or d.message
        # wbadmin really ran, as SYSTEM, and the scratch copies and the drill tasks are gone
        for n in sim.nodes:
            assert len(n.model.restores) > restores[n.name]
            scratch = render.drill_scratch(plan)
            assert not n.files.exists(scratch) or n.files.listdir(scratch) == []
            assert not any(t.endswith("-drill") for t in n.tasks)
            assert not any(n.files.exists(render.drill_script_path(plan, j)) for j in plan.jobs)
        # status shows the last drill per job, read in the request it already makes
        before = {n.name: n.requests for n in sim.nodes}
        status = cb.status()
        after = {n.name: n.requests - before[n.name] for n in sim.nodes}
        for job in plan.jobs:
            assert status[owner].drills[job].startswith("pass at ")  # type: ignore[union-attr]
        assert all(v == after[owner] for v in after.values())
        sim.assert_all_simulated()


def test_a_tampered_canary_fails_the_drill(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = load("2012", monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan, poll_initial=0.01) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        path = render.canary_path(plan, "shared-daily")
        assert path is not None
        newest = [v for v in _all_versions(sim) if path[0] in v.files][-1]
        newest.files[path[0]] = b"clpbackup-canary shared-daily 12345 Mon 01/15/2024  3:00:00.00 \r\n"
        result = cb.drill(job="shared-daily")
        assert not result.ok
        d = _drilled(result)[sim.owner]["shared-daily"]
        assert d.verdict == "fail" and "12345" in d.message and "no run of shared-daily recorded" in d.message


def test_a_missing_version_fails_the_drill_with_wbadmins_own_message(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = load("2008R2", monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan, poll_initial=0.01) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        # the share lost its backups after the job recorded its versions (the second hop list)
        for store in sim.shares.shares.values():
            _versions(store).clear()
        result = cb.drill(job="shared-data" if "shared-data" in plan.jobs else None)
        assert not result.ok
        fails = [d for per in _drilled(result).values() for d in per.values()]
        assert fails and all(d.verdict == "fail" for d in fails)
        assert all("wbadmin:" in d.message and "could not be found" in d.message for d in fails), fails


def test_the_2003_pair_reports_the_limitation_never_a_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = load("2003", monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan, poll_initial=0.01) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        result = cb.drill()
        assert not result.ok
        for per in _drilled(result).values():
            for d in per.values():
                assert d.verdict == "limited"
                assert "no command-line restore" in d.message and "Backup Utility" in d.message
        assert all(not n.model.restores for n in sim.nodes)


def test_a_drill_on_the_standby_is_refused_for_switchover_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = load("2012", monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan, poll_initial=0.01) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        result = cb.drill(job="shared-daily", node=sim.other)
        assert not result.ok
        d = _drilled(result)[sim.other]["shared-daily"]
        assert d.verdict == "refused" and "RS-1" in d.message and f"--node {sim.owner}" in d.message
        assert not sim.node(sim.other).model.restores


def test_check_mode_shows_the_commands_and_runs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = load("2012", monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan, poll_initial=0.01) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        tasks = {n.name: sorted(n.tasks) for n in sim.nodes}
        result = cb.drill(check=True)
        assert result.ok and not result.changed
        for per in _drilled(result).values():
            for d in per.values():
                assert d.verdict == "would-run"
                assert any(c.startswith("schtasks /Create") for c in d.commands)
                recovery = "wbadmin start recovery -version:" + (d.version or "?")
                assert any(c.startswith(recovery) for c in d.commands)
        assert {n.name: sorted(n.tasks) for n in sim.nodes} == tasks
        assert all(not n.model.restores for n in sim.nodes)


# -- an interrupted drill (OWN-1) ----------------------------------------------------------------------


def _schtasks(sim: SimulatedCluster, node: str, line: str) -> None:
    rc, out, err = sim.node(node).model.run_command_line(line)
    assert rc == 0, (line, out, err)


def _interrupted(sim: SimulatedCluster, cb: ClusterBackup, plan: Plan, job: str) -> tuple[str, str]:
    """A drill whose recovery outlasts its wait (the timeout path): its task is left to finish, and
    its script with it. Beside them, the operator's own task named like the drill's."""
    owner = sim.owner
    task, script = render.drill_task_name(plan, job), render.drill_script_path(plan, job)
    mine = f'schtasks /Create /TN {task}-mine /TR "C:\\tools\\mine.cmd" /SC DAILY /ST 05:00 /RU SYSTEM /F'
    _schtasks(sim, owner, mine)
    result = cb.drill(job=job, timeout=0)
    d = _drilled(result)[owner][job]
    assert d.verdict == "fail" and "still runs" in d.message and task in d.message, d
    node = sim.node(owner)
    assert node.tasks[task].running and node.files.exists(script)
    return task, script


def test_an_interrupted_drill_is_in_the_record_and_uninstall_removes_what_it_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """OWN-1: the drill's script and one-shot task enter clpbackup's record before the task exists,
    so a drill that did not get to delete them (here: its recovery outlasts the wait) leaves nothing
    uninstall cannot remove; status says what was left instead of calling it foreign; the
    operator's task with a similar name stays."""
    plan = load("2012", monkeypatch)
    job = "shared-daily"
    with SimulatedCluster.from_plan(plan, recovery_duration=600) as sim, ClusterBackup(
        sim.plan, poll_initial=0.01
    ) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        task, script = _interrupted(sim, cb, plan, job)
        node = sim.node(sim.owner)
        record = node.files.read_text(f"{plan.scripts_dir}\\clpbackup-record.jsonl")
        assert task in record and script.replace("\\", "\\\\") in record
        status = cb.status()
        mine = status[sim.owner]
        assert isinstance(mine, StatusResult)
        assert not any(s.name == task for s in mine.schedules), mine.schedules
        assert [s.state for s in mine.schedules if s.name == f"{task}-mine"] == ["foreign"]
        left = [n for n in mine.notes if "an interrupted drill left" in n]
        assert len(left) == 1 and task in left[0] and script in left[0], mine.notes
        assert "the next drill or uninstall removes" in left[0]
        assert not any(task in p.message for p in status.all_problems()), status.all_problems()
        # deploy leaves a drill's task alone (it may still run) and keeps it in the record
        assert cb.deploy().ok and node.tasks[task].running and node.files.exists(script)
        sim.advance(minutes=15)  # the recovery ends; its task and script stay behind
        assert task in node.tasks and node.files.exists(script)
        gone = cb.deploy(state="absent")
        assert gone.ok, gone
        for n in sim.nodes:
            assert not any(t.endswith("-drill") for t in n.tasks), sorted(n.tasks)
            assert not any(n.files.exists(render.drill_script_path(plan, j)) for j in plan.jobs)
        assert f"{task}-mine" in node.tasks


def test_the_next_drill_removes_what_an_interrupted_one_left(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = load("2012", monkeypatch)
    job = "shared-daily"
    with SimulatedCluster.from_plan(plan, recovery_duration=600) as sim, ClusterBackup(
        sim.plan, poll_initial=0.01
    ) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        task, script = _interrupted(sim, cb, plan, job)
        sim.advance(minutes=15)
        node = sim.node(sim.owner)
        node.model.recovery_duration = 0  # this one ends when it starts
        again = cb.drill(job=job)
        assert _drilled(again)[sim.owner][job].verdict == "pass", again
        assert task not in node.tasks and not node.files.exists(script)
        assert f"{task}-mine" in node.tasks
        record = node.files.read_text(f"{plan.scripts_dir}\\clpbackup-record.jsonl")
        assert task not in record.replace(f"{task}-mine", "") and "-drill.bat" not in record
        assert not [n for n in cb.status()[sim.owner].notes if "interrupted drill" in n]  # type: ignore[union-attr]



def test_a_drill_script_whose_delete_fails_stays_recorded_and_the_next_drill_deletes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """OWN-1: the drill's last request deletes its script; while another process holds the script
    open (a scanner opened the new file) the delete fails with a sharing violation. Its record
    line stays (``notdeleted:i``): the note says so, status shows it as a leftover, not foreign, and
    the next drill deletes it (before, the line was dropped and the file became foreign for good)."""
    plan = load("2012", monkeypatch)
    job = "shared-daily"
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan, poll_initial=0.01) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        node = sim.node(sim.owner)
        script = render.drill_script_path(plan, job)
        fs = node.model.fs
        real_move = fs.move
        holding = {"on": True}

        def move(src: str, dst: str, cwd: str = "C:\\", *, replace: bool = True) -> None:
            real_move(src, dst, cwd, replace=replace)
            if holding["on"] and dst.lower() == script.lower():
                fs.hold_open(dst, cwd)  # the scanner opens the file as soon as it appears

        monkeypatch.setattr(fs, "move", move)
        first = cb.drill(job=job)
        assert _drilled(first)[sim.owner][job].verdict == "pass", first
        mine = first[sim.owner]
        assert isinstance(mine, DrillResult)
        assert any(script in n and "stays in clpbackup's record" in n for n in mine.notes), mine.notes
        record = render.record_path(plan)
        assert node.files.exists(script) and script.replace("\\", "\\\\") in node.files.read_text(record)
        status = cb.status()[sim.owner]
        assert isinstance(status, StatusResult)
        assert any("interrupted drill left" in n and script in n for n in status.notes), status.notes
        holding["on"] = False
        fs.release(script)
        again = cb.drill(job=job)
        assert _drilled(again)[sim.owner][job].verdict == "pass", again
        assert not node.files.exists(script)
        assert "-drill.bat" not in node.files.read_text(record)


def test_a_drill_cut_off_by_a_lost_connection_leaves_only_what_uninstall_removes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The node stops answering while the drill's recovery runs (WinRM down, a network cut): the
    drill ends with the node's error, and what it left is in the record, so once the node answers
    again uninstall removes it."""
    plan = load("2019", monkeypatch)
    job = next(iter(plan.jobs))
    with SimulatedCluster.from_plan(plan, recovery_duration=600) as sim, ClusterBackup(
        sim.plan, poll_initial=0.05, poll_max=0.2
    ) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        owner = sim.owner
        node = sim.node(owner)
        task, script = render.drill_task_name(plan, job), render.drill_script_path(plan, job)

        def cut_when_running() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                running = node.tasks.get(task)
                if running is not None and running.running:
                    node.inject("down")
                    return
                time.sleep(0.01)

        threading.Thread(target=cut_when_running, daemon=True).start()
        result = cb.drill(job=job, node=owner, timeout=120)
        assert isinstance(result[owner], ConnectionFailed), result[owner]
        node.clear_faults()
        sim.advance(minutes=15)  # the recovery ends on the node; nobody deletes its task and script
        assert task in node.tasks and node.files.exists(script)
        gone = cb.deploy(state="absent")
        assert gone.ok, gone
        assert task not in node.tasks and not node.files.exists(script)
