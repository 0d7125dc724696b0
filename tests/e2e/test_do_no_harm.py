"""Do no harm on a node (#10): clpbackup touches only what its record says it created.

End to end through real pypsrp against ``clpbackup.testing``. The operator's own entries below were
the reproductions of issue #10: they resemble clpbackup's (an AT job whose command mentions the
scripts folder, a task whose name starts with ``clpbackup-<cluster>-``) and were deleted by deploy.
Assertions look at the simulated nodes' own state.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from clpbackup import ClusterBackup, Plan, nodestate, render
from clpbackup.errors import NodeBusy, PreflightFailed
from clpbackup.results import DeployResult, StatusResult
from clpbackup.testing import SimulatedCluster
from clpbackup.testing.model.fs import SID_ADMINISTRATORS, SID_SYSTEM, FolderAcl

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plans"
PLANS = {
    "2003-ntbackup-at": "ws2003-ntbackup.yaml",
    "2008r2-wsb-at": "ws2008r2-wsb.yaml",
    "2012-wsb-schtasks": "ws2012-wsb.yaml",
}
AT_PLANS = ["2003-ntbackup-at", "2008r2-wsb-at"]
PASSWORD = "Pl4n-Passw0rd!"
EVERY_DAY = "/every:M,T,W,Th,F,S,Su"


def load(name: str, monkeypatch: pytest.MonkeyPatch, **changes: Any) -> Plan:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    plan = Plan.from_file(EXAMPLES / PLANS[name])
    if not changes:
        return plan
    data = plan.model_dump(mode="json", exclude_none=True)
    for dotted, value in changes.items():
        where = data
        *parents, last = dotted.split(".")
        for p in parents:
            where = where[p]
        where[last] = value
    return Plan.from_dict(data)


def run(sim: SimulatedCluster, node: str, line: str) -> str:
    rc, out, err = sim.node(node).model.run_command_line(line)
    assert rc == 0, (line, out, err)
    return out.decode("ascii", "replace")


def operator_at_jobs(sim: SimulatedCluster, node: str, scripts_dir: str) -> list[str]:
    """The operator's own AT jobs of the issue: they mention the scripts folder, nothing more."""
    run(sim, node, f'at 04:00 {EVERY_DAY} cmd /c "copy {scripts_dir}\\logs\\*.log \\\\nas\\archive"')
    run(sim, node, f"at 05:00 {EVERY_DAY} C:\\tools\\rotate.cmd {scripts_dir}\\logs")
    return at_entries(sim, node)


def at_entries(sim: SimulatedCluster, node: str) -> list[str]:
    return [f"{j.at_id} {j.run}" for j in sim.node(node).at_jobs]


@pytest.mark.parametrize("name", AT_PLANS)
def test_deploy_leaves_the_operators_at_jobs_that_mention_the_scripts_folder(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load(name, monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        theirs = {n.name: operator_at_jobs(sim, n.name, plan.scripts_dir) for n in plan.nodes}
        result = cb.deploy()
        assert result.ok, result
        for n in plan.nodes:
            now = at_entries(sim, n.name)
            assert set(theirs[n.name]) <= set(now), (n.name, theirs[n.name], now)
        # and they stay through a second deploy and a status, which shows them as foreign
        assert cb.deploy().ok
        status = cb.status()
        for n in plan.nodes:
            assert set(theirs[n.name]) <= set(at_entries(sim, n.name))
            value = status[n.name]
            assert isinstance(value, StatusResult)
            foreign = [s for s in value.schedules if s.state == "foreign"]
            assert len(foreign) == 2, value.schedules


@pytest.mark.parametrize("name", list(PLANS))
def test_deploy_leaves_the_operators_task_named_like_clpbackups(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load(name, monkeypatch)
    task = f"clpbackup-{plan.cluster.name}-manual-export"
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        for n in plan.nodes:
            start = "06:00:00" if n.os == "2003" else "06:00"
            run(
                sim,
                n.name,
                f'schtasks /Create /TN {task} /TR "C:\\tools\\export.cmd" /SC DAILY /ST {start} '
                "/RU SYSTEM /F",
            )
        assert cb.deploy().ok
        assert cb.deploy().ok
        for n in plan.nodes:
            assert task in sim.node(n.name).tasks, sorted(sim.node(n.name).tasks)
        status = cb.status()
        for n in plan.nodes:
            value = status[n.name]
            assert isinstance(value, StatusResult)
            assert [s.state for s in value.schedules if s.name == task] == ["foreign"]


def backups(sim: SimulatedCluster, node: str) -> int:
    """wbadmin start backup runs on the node (a job's run also reads versions with wbadmin)."""
    return sum(1 for r in sim.node(node).model.runs_of("wbadmin") if "start backup" in r.arguments.lower())


def test_renaming_the_cluster_leaves_no_second_task_running_the_same_batch_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = load("2012-wsb-schtasks", monkeypatch)
    new = load("2012-wsb-schtasks", monkeypatch, **{"cluster.name": "prod-db2"})
    with SimulatedCluster.from_plan(old) as sim:
        with ClusterBackup(sim.plan) as cb:
            assert cb.deploy().ok
        renamed = sim.plan.model_copy(update={"cluster": new.cluster})
        with ClusterBackup(renamed) as cb:
            assert cb.deploy().ok
            before = {n.name: backups(sim, n.name) for n in old.nodes}
            sim.advance(hours=24)
            # the owner runs each of its daily jobs once (the standby's switchover job stops at JOB-3)
            owner = sim.owner
            runs = backups(sim, owner) - before[owner]
            assert runs == len(cb.artifacts[owner].schedules), (runs, sorted(sim.node(owner).tasks))
            for n in old.nodes:
                tasks = sorted(sim.node(n.name).tasks)
                assert not any(t.startswith(f"clpbackup-{old.cluster.name}-") for t in tasks), tasks


@pytest.mark.parametrize("name", AT_PLANS)
def test_two_deploys_that_read_before_either_writes_add_each_entry_once(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load(name, monkeypatch)
    node = plan.home_node.name
    with SimulatedCluster.from_plan(plan) as sim:
        both_read = threading.Barrier(2, timeout=60)
        original = ClusterBackup._read

        def read_then_wait(self: ClusterBackup, name: str, **kw: Any) -> Any:
            value = original(self, name, **kw)
            if not getattr(self, "_read_once", False):
                self._read_once = True  # type: ignore[attr-defined]
                both_read.wait()
            return value

        monkeypatch.setattr(ClusterBackup, "_read", read_then_wait)
        results: list[Any] = [None, None]

        def deploy(i: int) -> None:
            with ClusterBackup(sim.plan) as cb:
                results[i] = cb.deploy(node=node)

        threads = [threading.Thread(target=deploy, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for r in results:
            assert r is not None and isinstance(r[node], DeployResult), results
        wanted = len(ClusterBackup(plan).artifacts[node].schedules)
        assert len(sim.node(node).at_jobs) == wanted, at_entries(sim, node)


def test_a_held_node_lock_refuses_the_second_deploy_naming_the_holder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = load("2012-wsb-schtasks", monkeypatch)
    lock = f"{plan.scripts_dir}\\clpbackup.lock"
    holder = (
        "owner=alice@ws7 pid 4242 (clpbackup)\r\ntaken=2024-01-15T00:00:00Z\r\n"
        "expires=2024-01-15T00:06:00Z"
    )
    with SimulatedCluster.from_plan(plan) as sim:
        model = sim.node("node-a").model
        model.write_file(lock, holder.encode("utf-8"))
        # the folder as a deploy made it (ACL-1): SYSTEM and Administrators only
        locked = FolderAcl(SID_ADMINISTRATORS, frozenset({SID_SYSTEM, SID_ADMINISTRATORS}), True)
        model.fs.set_acl(plan.scripts_dir, locked)
        model.open_handles.add(lock.lower())  # a live deploy holds it open
        with ClusterBackup(sim.plan, lock_wait=1) as cb:
            result = cb.deploy()
        busy = result["node-a"]
        assert isinstance(busy, NodeBusy), result
        assert "held by alice@ws7 pid 4242 (clpbackup) since 2024-01-15T00:00:00Z" in str(busy)
        assert sim.node("node-a").tasks == {}  # nothing written under someone else's lock
        assert isinstance(result["node-b"], DeployResult) and result["node-b"].changed
        # the holder crashed: Windows closed its handle, the file stays; the next deploy takes over
        model.open_handles.discard(lock.lower())
        with ClusterBackup(sim.plan) as cb:
            again = cb.deploy()
        assert again.ok and isinstance(again["node-a"], DeployResult) and again["node-a"].changed
        assert "alice" not in sim.node("node-a").files.read_bytes(lock).decode("utf-8")


def test_one_shots_and_run_take_the_node_lock_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """LOCK-1 for the applies that schedule or start a backup (failover/failback one-shots, run):
    under another clpbackup's lock they change nothing and name the holder, as deploy does."""
    plan = load("2012-wsb-schtasks", monkeypatch)
    lock = f"{plan.scripts_dir}\\clpbackup.lock"
    holder = "owner=bob@ws9 pid 77 (clpbackup)\r\ntaken=2024-01-15T00:00:00Z\r\nexpires=2024-01-15T00:06:00Z"
    with SimulatedCluster.from_plan(plan) as sim:
        with ClusterBackup(sim.plan) as cb:
            assert cb.deploy().ok
        sim.failover()
        model = sim.node("node-b").model
        before = dict(sim.node("node-b").tasks)
        model.write_file(lock, holder.encode("utf-8"))
        model.open_handles.add(lock.lower())  # a live deploy holds it open
        with ClusterBackup(sim.plan, lock_wait=1) as cb:
            once = cb.failover_backup(at="now")
            run = cb.run_backup("local-daily", node="node-b")
        for result in (once, run):
            busy = result["node-b"]
            assert isinstance(busy, NodeBusy), result
            assert "held by bob@ws9 pid 77 (clpbackup) since 2024-01-15T00:00:00Z" in str(busy)
        assert sim.node("node-b").tasks.keys() == before.keys()  # no one-shot under the lock
        assert all(t.last_run is None for t in sim.node("node-b").tasks.values())  # nothing started
        model.open_handles.discard(lock.lower())  # the holder ended: its handle closed
        with ClusterBackup(sim.plan) as cb:
            assert cb.failover_backup(at="now").ok
        assert any(name.endswith("-once") for name in sim.node("node-b").tasks)


def test_over_winrs_the_record_is_written_and_foreign_at_jobs_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = load("2003-ntbackup-at", monkeypatch, **{"connection.transport": "winrs"})
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        theirs = {n.name: operator_at_jobs(sim, n.name, plan.scripts_dir) for n in plan.nodes}
        assert cb.deploy().ok
        second = cb.deploy()
        assert second.ok and not second.changed, second
        # ACL-1 cannot be read over WinRS: said, not silently passed (deploy and status alike)
        status = cb.status()
        for n in plan.nodes:
            for result in (second[n.name], status[n.name]):
                assert not isinstance(result, Exception)
                assert any(note.startswith("ACL-1: who may write") for note in result.notes), result
        for n in plan.nodes:
            assert set(theirs[n.name]) <= set(at_entries(sim, n.name))
            record = sim.node(n.name).files.read_bytes(f"{plan.scripts_dir}\\clpbackup-record.jsonl")
            ids = {j.at_id for j in sim.node(n.name).at_jobs if "copy" not in j.run and "rotate" not in j.run}
            assert all(f'"id": {i}'.encode() in record for i in ids), record


@pytest.mark.parametrize("name", list(PLANS))
def test_uninstall_removes_exactly_what_the_record_lists(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = load(name, monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        before = {n.name: (sorted(sim.node(n.name).tasks), at_entries(sim, n.name)) for n in plan.nodes}
        starts = {
            n.name: sim.node(n.name).files.read_bytes(plan.cluster.start_script)
            for n in plan.nodes
            if plan.cluster.start_script and sim.node(n.name).files.exists(plan.cluster.start_script)
        }
        assert cb.deploy().ok
        theirs = {n.name: operator_at_jobs(sim, n.name, plan.scripts_dir) for n in plan.nodes}
        check = cb.deploy(check=True, state="absent")
        assert check.ok and check.changed and check.check  # would change (Ansible's convention)
        assert all(isinstance(v, DeployResult) and v.diff for v in check.values())
        assert cb.deploy(check=True).ok and not cb.deploy(check=True).changed  # nothing removed by check
        gone = cb.deploy(state="absent")
        assert gone.ok and gone.changed, gone
        for n in plan.nodes:
            tasks, _ = before[n.name]
            assert sorted(sim.node(n.name).tasks) == tasks
            # only the operator's AT jobs are left, under their own ids
            assert at_entries(sim, n.name) == [e for e in theirs[n.name] if "copy" in e or "rotate" in e]
            for f in cb.artifacts[n.name].files:
                if f.role != "start-fragment" or not plan.cluster.start_script:
                    assert not sim.node(n.name).files.exists(f.path), f.path
            if n.name in starts:
                assert sim.node(n.name).files.read_bytes(plan.cluster.start_script) == starts[n.name]
        again = cb.deploy(state="absent")
        assert again.ok and not again.changed


def test_cli_deploy_state_absent_uninstalls(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    from clpbackup.cli import main

    plan = load("2012-wsb-schtasks", monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim:
        path = tmp_path / "plan.yaml"
        path.write_text(yaml.safe_dump(sim.plan.model_dump(mode="json", exclude_none=True)), encoding="utf-8")
        assert main(["deploy", str(path)]) == 0
        assert sim.node("node-a").tasks
        capsys.readouterr()
        assert main(["deploy", str(path), "--state", "absent", "--check"]) == 0
        assert "delete" in capsys.readouterr().out and sim.node("node-a").tasks
        assert main(["deploy", str(path), "--state", "absent"]) == 0
        assert sim.node("node-a").tasks == {} and sim.node("node-b").tasks == {}


def test_a_foreign_task_with_a_planned_name_refuses_the_node_until_adopted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = load("2012-wsb-schtasks", monkeypatch)
    name = f"clpbackup-{plan.cluster.name}-local-daily"
    with SimulatedCluster.from_plan(plan) as sim:
        run(
            sim,
            "node-a",
            f'schtasks /Create /TN {name} /TR "C:\\tools\\mine.cmd" /SC DAILY /ST 06:00 /RU SYSTEM /F',
        )
        with ClusterBackup(sim.plan) as cb:
            result = cb.deploy()
            refused = result["node-a"]
            assert isinstance(refused, PreflightFailed) and "OWN-1" in str(refused) and name in str(refused)
            assert sorted(sim.node("node-a").tasks) == [name]  # nothing written on the refused node
            assert sim.node("node-a").tasks[name].run == "C:\\tools\\mine.cmd"
            status = cb.status()["node-a"]
            assert isinstance(status, StatusResult)
            assert any(p.rule == "OWN-1" and name in p.message for p in status.problems), status.problems
        with ClusterBackup(sim.plan, adopt=True) as cb:
            assert cb.deploy().ok
        assert "local-daily.bat" in sim.node("node-a").tasks[name].run


def _without_job(plan: Plan, job: str) -> Plan:
    """``plan`` with ``job`` (and the drill option that named it) taken out, as an operator edits it."""
    data = plan.model_dump(mode="json", exclude_none=True)
    del data["jobs"][job]
    data.pop("drill", None)
    return Plan.from_dict(data)


WEEKLY_LOCAL = {"drill": {"weekly": {"day": "SUN", "at": "08:00"}, "jobs": ["local-daily"]}}
def _only(plan: Plan, job: str) -> Plan:
    """``plan`` with ``job`` its only job (to ask what that job alone renders)."""
    data = plan.model_dump(mode="json", exclude_none=True)
    data["jobs"] = {job: data["jobs"][job]}
    data.pop("drill", None)
    data.pop("failover_backup", None)
    return Plan.from_dict(data)


REMOVAL_PLANS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "2012": ("2012-wsb-schtasks", "local-daily", WEEKLY_LOCAL),
    "2003": ("2003-ntbackup-at", "local-daily", {}),
    "2003-winrs": ("2003-ntbackup-at", "local-daily", {"connection.transport": "winrs"}),
}


@pytest.mark.parametrize("name", list(REMOVAL_PLANS))
def test_a_job_removed_from_the_plan_leaves_no_recorded_file_or_task_on_the_nodes(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OWN-1: every file the record lists is hashed, whatever the current plan renders, so deploy
    after a job was taken out of the plan deletes that job's scripts (its weekly drill script, its
    .bks selection on 2003) and tasks; the other job's stay, an operator's own file beside them
    stays, and a recorded file the operator changed since is left and reported."""
    example, removed, changes = REMOVAL_PLANS[name]
    drill = "drill" in changes
    plan = load(example, monkeypatch, **changes)
    with SimulatedCluster.from_plan(plan) as sim:
        with ClusterBackup(sim.plan) as cb:
            assert cb.deploy().ok
            arts = {n.name: cb.artifacts[n.name] for n in plan.nodes}
            schedules = {n.name: cb.artifacts[n.name].schedules for n in plan.nodes}
        smaller = _without_job(sim.plan, removed)
        mine = f"{plan.scripts_dir}\\{removed}-operator-notes.txt"
        changed: dict[str, str] = {}
        gone: dict[str, list[str]] = {}
        for n in plan.nodes:
            files = sim.node(n.name).files
            files.write(mine, b"the operator's own file\r\n")
            theirs = [f.path for f in arts[n.name].files if f.job == removed]
            assert theirs and all(files.exists(p) for p in theirs), theirs
            if drill:
                assert any(p.endswith(f"{removed}-drill-weekly.bat") for p in theirs), theirs
            else:
                assert any(p.lower().endswith(".bks") for p in theirs), theirs
            # the operator edits one of them: it is theirs now (left, reported)
            changed[n.name] = theirs[0]
            files.write(theirs[0], files.read_bytes(theirs[0]) + b"rem the operator's line\r\n")
            gone[n.name] = theirs[1:]
            # the canary the job's runs wrote (DRILL-1), recorded: it goes with the job
            canary = nodestate.canary_paths(_only(plan, removed))
            assert canary
            files.write(canary[0], render.CANARY_MARK.encode("ascii") + b" 1234 local-daily\r\n")
            gone[n.name] += canary
        with ClusterBackup(smaller) as cb2:
            kept = {n.name: [f for f in cb2.artifacts[n.name].files] for n in plan.nodes}
            result = cb2.deploy()
            assert not result.failed, result
            # the one thing to report: the file the operator changed, left in place (OWN-1)
            shown = [(p.rule, p.node) for p in result.all_problems()]
            assert shown == [("OWN-1", n.name) for n in plan.nodes], result.all_problems()
            for n in plan.nodes:
                files = sim.node(n.name).files
                for p in gone[n.name]:
                    assert not files.exists(p), p
                assert files.exists(changed[n.name])
                assert files.read_bytes(mine) == b"the operator's own file\r\n"
                for f in kept[n.name]:
                    if f.role != "start-fragment":
                        assert files.read_bytes(f.path) == f.content, f.path
                value = result[n.name]
                assert isinstance(value, DeployResult)
                assert any(
                    p.rule == "OWN-1" and changed[n.name] in p.message for p in value.problems
                ), value.problems
                # the removed job's tasks / AT jobs: deleted as stale record entries
                old = [s for s in schedules[n.name] if s.job == removed]
                assert old
                node = sim.node(n.name)
                for s in old:
                    assert s.name not in node.tasks
                assert not any(removed in j.run for j in node.at_jobs), at_entries(sim, n.name)
                record = files.read_text(render.record_path(plan))
                assert removed not in record, record
            again = cb2.deploy()
            assert again.ok and not again.changed, again


@pytest.mark.parametrize("name", list(REMOVAL_PLANS))
def test_uninstall_after_a_plan_change_removes_everything_recorded(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    example, removed, changes = REMOVAL_PLANS[name]
    plan = load(example, monkeypatch, **changes)
    with SimulatedCluster.from_plan(plan) as sim:
        with ClusterBackup(sim.plan) as cb:
            assert cb.deploy().ok
            everything = {n.name: [f.path for f in cb.artifacts[n.name].files if f.role != "start-fragment"]
                          for n in plan.nodes}
        with ClusterBackup(_without_job(sim.plan, removed)) as cb2:
            gone = cb2.deploy(state="absent")
            assert gone.ok and gone.changed, gone
        for n in plan.nodes:
            node = sim.node(n.name)
            for p in everything[n.name]:
                assert not node.files.exists(p), p
            assert not [t for t in node.tasks if t.startswith(f"clpbackup-{plan.cluster.name}-")], node.tasks
            assert not node.at_jobs, at_entries(sim, n.name)


@pytest.mark.parametrize("name", ["2012", "2003-winrs"])
def test_a_recorded_file_whose_delete_fails_stays_in_the_record_and_the_next_deploy_deletes_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OWN-1: deleting a removed job's script fails while another process holds it open (sharing
    violation); its record line stays (``notdeleted:i``), so it does not turn foreign: once the
    handle is closed the next deploy deletes it. Uninstall keeps the line of a failed delete too."""
    example, removed, changes = REMOVAL_PLANS[name]
    plan = load(example, monkeypatch, **changes)
    with SimulatedCluster.from_plan(plan) as sim:
        first = plan.nodes[0].name
        with ClusterBackup(sim.plan) as cb:
            assert cb.deploy().ok
            script = cb.artifacts[first].file("backup-script", removed).path
        node = sim.node(first)
        node.model.fs.hold_open(script)
        record_path = render.record_path(plan)
        with ClusterBackup(_without_job(sim.plan, removed)) as cb2:
            result = cb2.deploy()
            failed = result[first]
            assert isinstance(failed, Exception) and script in str(failed), failed
            assert "being used by another process" in str(failed), failed
            assert node.files.exists(script)
            assert script.replace("\\", "\\\\") in node.files.read_text(record_path)
            node.model.fs.release(script)
            again = cb2.deploy()
            assert again.ok, again
            assert not node.files.exists(script)
            assert script.replace("\\", "\\\\") not in node.files.read_text(record_path)
        # uninstall: a failed delete keeps its line, the next uninstall deletes it
        with ClusterBackup(sim.plan) as cb3:
            assert cb3.deploy().ok
            node.model.fs.hold_open(script)
            refused = cb3.deploy(state="absent")[first]
            assert isinstance(refused, Exception) and script in str(refused), refused
            assert script.replace("\\", "\\\\") in node.files.read_text(record_path)
            node.model.fs.release(script)
            assert cb3.deploy(state="absent").ok
            assert not node.files.exists(script)
            assert script.replace("\\", "\\\\") not in node.files.read_text(record_path)
