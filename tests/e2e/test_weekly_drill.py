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
