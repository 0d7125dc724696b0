"""The weekly restore drill the nodes run themselves (DRILL-2) end to end, through real pypsrp against
``clpbackup.testing``: deploy, record, status, drift, check mode, removal and uninstall."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from clpbackup import render
from clpbackup.operations import ClusterBackup
from clpbackup.plan import Plan
from clpbackup.results import DeployResult, StatusResult
from clpbackup.rules import weekly_drill_jobs
from clpbackup.testing.cluster import SimulatedCluster
from clpbackup.testing.model.wbadmin import WB_FAIL_RC, WsbVersion, _versions
from tests.helpers.plans import EXAMPLES, PLANS

WSB = [k for k in PLANS if "2003" not in k]
WEEKLY: dict[str, Any] = {"weekly": {"day": "SUN", "at": "08:00"}}


def load(name: str, monkeypatch: pytest.MonkeyPatch, drill: dict[str, Any] | None = WEEKLY) -> Plan:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "We3kly-Passw0rd!")
    data = yaml.safe_load((EXAMPLES / PLANS[name]).read_text(encoding="utf-8"))
    if drill is not None:
        data["drill"] = drill
    return Plan.from_dict(data)


def names_of(sim: SimulatedCluster) -> list[str]:
    return [n.name for n in sim.nodes]


def _weekly(cb: ClusterBackup, node: str) -> list[Any]:
    return [s for s in cb.artifacts[node].schedules if s.kind == "weekly"]


def _changes(result: Any, node: str) -> list[tuple[str, str, str]]:
    value = result[node]
    assert isinstance(value, DeployResult), value
    return [(c.kind, c.name, c.action) for c in value.changes]


@pytest.mark.parametrize("name", WSB)
def test_deploy_installs_the_weekly_drill_on_both_nodes_and_a_second_deploy_changes_nothing(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load(name, monkeypatch)
    jobs = weekly_drill_jobs(plan)
    assert jobs
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        check = cb.deploy(check=True)
        assert check.ok and check.changed
        for node in names_of(sim):
            shown = _changes(check, node)
            for job in jobs:
                assert ("file", render.weekly_drill_script_path(plan, job), "create") in shown
                assert ("schedule", render.weekly_drill_task_name(plan, job), "create") in shown
        assert all(not n.tasks for n in sim.nodes)  # check mode wrote nothing
        assert cb.deploy().ok
        scripts = {}
        for n in sim.nodes:
            rec = n.files.read_text(render.record_path(plan))
            for entry in _weekly(cb, n.name):
                task = n.model.scheduler.get(entry.name)
                assert task is not None and task.kind == "WEEKLY" and task.weekdays == (6,)  # Sunday
                assert task.is_system and task.run == entry.run
                assert f'"name": "{entry.name}"' in rec and '"type": "weekly"' in rec
            for job in jobs:
                path = render.weekly_drill_script_path(plan, job)
                scripts.setdefault(job, set()).add(
                    n.files.read_bytes(path).replace(n.name.encode(), b"<node>")
                )
                assert path.replace("\\", "\\\\") in rec
        # JOB-1: the same script on both nodes but for the node's own name (and code page)
        assert all(len(v) == 1 for v in scripts.values()), scripts
        again = cb.deploy()
        assert again.ok and not again.changed
        status = cb.status()
        assert status.ok, status
        for node in names_of(sim):
            value = status[node]
            assert isinstance(value, StatusResult)
            weekly = [s for s in value.schedules if s.kind == "weekly"]
            assert sorted(s.job or "" for s in weekly) == sorted(jobs)
            assert all(s.state == "matching" and s.verdict == "weekly drill, not run yet" for s in weekly)
        sim.assert_all_simulated()


def test_status_and_drift_notice_a_missing_or_changed_weekly_task(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = load("2012-wsb-schtasks", monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        a, b = names_of(sim)
        local = render.weekly_drill_task_name(plan, "local-daily")
        shared = render.weekly_drill_task_name(plan, "shared-daily")
        assert sim.node(a).model.run_command_line(f"schtasks /Delete /TN {local} /F")[0] == 0
        changed = render.weekly_drill_schedule(plan, b, "shared-daily").command_line.replace(
            "/D SUN", "/D MON"
        )
        assert sim.node(b).model.run_command_line(changed)[0] == 0
        status = cb.status()
        assert not status.ok
        problems = [str(p) for p in status.problems]
        per_node = {
            n: [p.message for p in v.problems] for n, v in status.items() if isinstance(v, StatusResult)
        }
        assert f"schedule {local} is missing; run deploy" in per_node[a], per_node
        assert f"schedule {shared} is different; run deploy" in per_node[b], per_node
        assert any(
            f"the weekly drill of job local-daily is scheduled on {b} but not on {a}: run deploy" in p
            for p in problems
        ), problems
        assert any(
            f"the weekly drill of job shared-daily is scheduled on {a} but not on {b}" in p for p in problems
        )
        value = status[b]
        assert isinstance(value, StatusResult)
        (s,) = [s for s in value.schedules if s.name == shared]
        assert s.verdict == "runs on MON, expected SUN"
        fixed = cb.deploy()
        assert fixed.ok and fixed.changed
        assert ("schedule", local, "create") in _changes(fixed, a)
        assert ("schedule", shared, "update") in _changes(fixed, b)
        assert cb.status().ok


@pytest.mark.parametrize("name", ["2008r2-wsb-at", "2016-ja-JP"])
def test_a_plan_without_the_option_removes_it_and_uninstall_leaves_nothing_of_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load(name, monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim:
        with ClusterBackup(sim.plan) as cb:
            assert cb.deploy().ok
            names = {s.name for s in _weekly(cb, names_of(sim)[0])}
            paths = [render.weekly_drill_script_path(plan, j) for j in weekly_drill_jobs(plan)]
        assert all(n.files.exists(p) for n in sim.nodes for p in paths)
        with ClusterBackup(sim.plan.model_copy(update={"drill": None})) as cb:
            removed = cb.deploy()
            assert removed.ok and removed.changed
            for node in names_of(sim):
                shown = _changes(removed, node)
                assert {("schedule", t, "delete") for t in names} <= set(shown)
                assert {("file", p, "delete") for p in paths} <= set(shown)
            for n in sim.nodes:
                assert not {t.lower() for t in names} & {t.lower() for t in n.tasks}
                assert not any(n.files.exists(p) for p in paths)
                assert "drill-weekly" not in n.files.read_text(render.record_path(plan))
            assert cb.status().ok
        with ClusterBackup(sim.plan) as cb:
            assert cb.deploy().ok  # back again, then uninstalled
            gone = cb.deploy(state="absent")
            assert gone.ok
            for node in names_of(sim):
                shown = _changes(gone, node)
                assert {("schedule", t, "delete") for t in names} <= set(shown)
            for n in sim.nodes:
                assert not any("drill-weekly" in t for t in n.tasks)
                assert not any(n.files.exists(p) for p in paths)


# -- the weekly run (needs the simulator's for /f, call :label, %VAR:~n,m%) ----------------------------


def _until_the_drill(sim: SimulatedCluster) -> None:
    """From the simulated Monday 00:00: a day of backups, then past Sunday 08:15's drills."""
    sim.advance(hours=24 * 6 + 9)


@pytest.mark.parametrize("name", WSB)
def test_the_weekly_task_drills_the_newest_version_and_status_shows_pass(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load(name, monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        restores = {n.name: len(n.model.restores) for n in sim.nodes}
        _until_the_drill(sim)
        status = cb.status()
        owner = sim.owner
        for n in sim.nodes:
            value = status[n.name]
            assert isinstance(value, StatusResult), value
            for job in weekly_drill_jobs(plan):
                spec = plan.jobs[job]
                (task,) = [s for s in value.schedules if s.kind == "weekly" and s.job == job]
                assert task.last_result == 0, (n.name, job, task)
                if spec.scope == "switchover" and n.name != owner:
                    # RS-1: the standby wrote no verdict, only its log line
                    assert job not in value.drills, value.drills
                    log = n.files.read_text(render.weekly_drill_log_path(plan, job))
                    assert "RS-1:" in log and "not attached" in log
                    continue
                last = value.drills[job]
                assert last.startswith("pass at ") and last.endswith("[weekly task]"), last
                # the version is the newest this node made, as wbadmin lists it
                newest = value.versions.get(job)
                assert newest and f"(version {newest} by {n.name})" in last, (last, newest)
            assert not any(e.event_id == 104 for e in value.events or [])
            assert len(n.model.restores) > restores[n.name]
            scratch = render.drill_scratch(plan)
            assert not n.files.exists(scratch) or n.files.listdir(scratch) == []
        sim.assert_all_simulated()
        # after its runs too, uninstall leaves no task, script or canary of it (its logs stay)
        assert cb.deploy(state="absent").ok
        for n in sim.nodes:
            assert not any("drill-weekly" in t for t in n.tasks)
            assert not any(n.files.exists(render.weekly_drill_script_path(plan, j)) for j in plan.jobs)
            assert not any(
                n.files.exists(w[0]) for j in plan.jobs if (w := render.canary_path(plan, j)) is not None
            )


def _versions_of(sim: SimulatedCluster, machine: str, path: str) -> list[WsbVersion]:
    found = [v for store in sim.shares.shares.values() for v in _versions(store)]
    for node in sim.nodes:
        for vol in node.model.fs.volumes.values():
            found += _versions(vol)
    return sorted((v for v in found if v.node == machine and path in v.files), key=lambda v: v.when)


def _weekly_state(cb: ClusterBackup, node: str, job: str) -> tuple[StatusResult, Any]:
    status = cb.status(node=node)
    value = status[node]
    assert isinstance(value, StatusResult), value
    (task,) = [s for s in value.schedules if s.kind == "weekly" and s.job == job]
    return value, task


@pytest.mark.parametrize("name", ["2012-wsb-schtasks", "2012-ja-JP"])
def test_a_tampered_canary_fails_the_weekly_drill_with_one_event_104(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load(name, monkeypatch)
    job = next(j for j in weekly_drill_jobs(plan) if plan.jobs[j].scope == "local")
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24 * 6 + 7)  # Sunday 07:00: the week's backups ran, the drill has not
        node = sim.owner
        where = render.canary_path(plan, job)
        assert where is not None
        newest = _versions_of(sim, node, where[0])[-1]
        # a canary changed in the backup: a token no run recorded
        newest.files[where[0]] = f"clpbackup-canary {job} 12345 Sun 01/21/2024  1:00:00.00 \r\n".encode()
        sim.advance(hours=3)
        value, task = _weekly_state(cb, node, job)
        assert task.last_result == render.WEEKLY_DRILL_RC["not-recorded"]
        assert task.verdict.startswith("drill failed (DRILL-2): the recovered canary holds a token no run")
        assert value.drills[job].startswith("fail at ") and "no run of" in value.drills[job]
        assert value.drills[job].endswith("is not clpbackup's"), value.drills[job]
        assert any(p.rule == "DRILL-2" and job in p.message for p in value.problems)
        events = [e for e in value.events or [] if e.event_id == 104]
        assert len(events) == 1 and f"job {job} failed on {node}" in events[0].message
        assert events[0].kind == "restore-drill-failed"
        sim.assert_all_simulated()
        # the other node's own version was not changed: it passed
        other, _ = _weekly_state(cb, sim.other, job)
        assert other.drills[job].startswith("pass at ")


@pytest.mark.parametrize("name", ["2008r2-wsb-at", "2019-wsb-schtasks"])
def test_a_missing_version_fails_the_weekly_drill_with_one_event_104(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load(name, monkeypatch)
    job = next(j for j in weekly_drill_jobs(plan) if plan.jobs[j].scope == "switchover")
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24 * 6 + 7)
        node = sim.owner
        where = render.canary_path(plan, job)
        assert where is not None
        for v in _versions_of(sim, node, where[0]):  # the share lost the owner's backups of the job
            for store in [
                *sim.shares.shares.values(),
                *(vol for n in sim.nodes for vol in n.model.fs.volumes.values()),
            ]:
                if v in _versions(store):
                    _versions(store).remove(v)
        sim.advance(hours=3)
        value, task = _weekly_state(cb, node, job)
        assert task.last_result == render.WEEKLY_DRILL_RC["no-version"]
        # the simulator's wbadmin answers "No backups were found." with exit code 1 (WB_FAIL_RC)
        assert value.drills[job] == (
            f"fail at {value.drills[job][8:].split(' [')[0]} [weekly task]: wbadmin get versions failed "
            f"with exit code {WB_FAIL_RC} and gave no version made by {node} (the target unreachable, "
            f"access denied, or no backup there): its answer is in logs\\{job}-drill-versions.txt"
        )
        model = sim.node(node).model
        answer = model.fs.read_bytes(render.weekly_drill_versions_path(plan, job))
        assert model.texts.t("wb.e_no_versions").encode(model.encoding) in answer
        events = [e for e in value.events or [] if e.event_id == 104]
        assert len(events) == 1 and f"job {job} failed on {node}" in events[0].message
        log = sim.node(node).files.read_text(render.weekly_drill_log_path(plan, job))
        assert "newest version" not in log  # it never got as far as a recovery


@pytest.mark.parametrize("name", ["2012-wsb-schtasks", "2016-ja-JP"])
def test_an_unreachable_share_fails_the_weekly_drill_keeping_wbadmins_answer(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The share is down when the drill runs (``clpbackup sim share-down``): the verdict says
    wbadmin get versions failed, with its exit code, and names the file that keeps its error text
    (inside for /f that text was consumed and the verdict said no version was found)."""
    plan = load(name, monkeypatch)
    job = next(j for j in weekly_drill_jobs(plan) if plan.jobs[j].scope == "local")
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24 * 6 + 7)  # Sunday 07:00: the week's backups ran, the drill has not
        target = render.job_target(plan, job, sim.owner)
        assert target.startswith("\\\\")
        server = target[2:].split("\\")[0].lower()
        sim.shares.unreachable.add(server)
        sim.advance(hours=3)
        sim.shares.unreachable.discard(server)
        for n in sim.nodes:
            value, task = _weekly_state(cb, n.name, job)
            assert task.last_result == render.WEEKLY_DRILL_RC["no-version"]
            assert value.drills[job].endswith(
                f"[weekly task]: wbadmin get versions failed with exit code {WB_FAIL_RC} and gave no "
                f"version made by {n.name} (the target unreachable, access denied, or no backup there): "
                f"its answer is in logs\\{job}-drill-versions.txt"
            ), value.drills[job]
            answer = n.model.fs.read_bytes(render.weekly_drill_versions_path(plan, job))
            assert n.model.texts.t("wb.e_net").encode(n.model.encoding) in answer, answer
            events = [e for e in value.events or [] if e.event_id == 104 and f"job {job} " in e.message]
            assert len(events) == 1 and f"job {job} failed on {n.name}" in events[0].message
        sim.assert_all_simulated()
