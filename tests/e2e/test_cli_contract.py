"""The command line's contract, through the real entry point (``python -m clpbackup`` in a
subprocess) against a simulated cluster: one JSON document per command, check mode's ``changed``,
the failback/failover one-shot guard, each command's own help, ``status --node`` and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clpbackup import ClusterBackup
from clpbackup.testing import SimulatedCluster
from clpbackup.testing.simulate_cli import plan_yaml

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "plans" / "ws2012-wsb.yaml"
PASSWORD = "Cli-Contract-0nly!"


def clp(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "CLPBACKUP_PASSWORD": PASSWORD, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "clpbackup", *args],
        capture_output=True, text=True, cwd=ROOT, env=full, timeout=timeout, check=False,
    )


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr


@pytest.fixture
def cluster(sim_cluster: Callable[..., SimulatedCluster], tmp_path: Path) -> tuple[SimulatedCluster, str]:
    sim = sim_cluster(EXAMPLE, password=PASSWORD)
    path = tmp_path / "plan.yaml"
    path.write_text(plan_yaml(sim.plan), encoding="utf-8")
    return sim, str(path)


def one_json(proc: subprocess.CompletedProcess[str]) -> Any:
    """stdout is exactly one JSON document (json.loads fails on anything around it)."""
    no_traceback(proc)
    return json.loads(proc.stdout)


@pytest.mark.slow  # eleven runs of the real program: the slow tier (CI runs it)
def test_every_command_prints_one_json_document(cluster: tuple[SimulatedCluster, str]) -> None:
    _sim, plan = cluster
    shapes = {
        ("validate", plan): {"plan", "valid", "counts", "findings"},
        ("render", plan): {"nodes"},
        ("schema",): {"$schema", "properties"},
        ("ansible-path",): {"path"},
        ("deploy", plan, "--check"): {"operation", "check", "ok", "changed", "nodes", "problems", "notes"},
        ("status", plan): {"operation", "check", "ok", "changed", "nodes", "problems", "notes"},
        ("failover-backup", plan, "--check"): {"operation", "check", "ok", "changed", "nodes"},
        ("failback-backup", plan, "--check"): {"operation", "check", "ok", "changed", "nodes"},
        # before this item, `run --no-wait --format json` printed a text line
        ("run", plan, "--job", "local-daily", "--no-wait"): {"operation", "ok", "job", "started", "nodes"},
        ("restore-source", plan, "E:"): {"item", "node", "version", "command", "ok"},
    }
    for argv, keys in shapes.items():
        proc = clp(*argv, "--format", "json")
        data = one_json(proc)
        assert keys <= set(data), (argv, sorted(data))
    # an error before any node is asked is JSON too (and exit 2)
    proc = clp("failover-backup", plan, "--at", "25:99", "--format", "json")
    assert proc.returncode == 2
    data = one_json(proc)
    assert data["ok"] is False and data["error"]["field"] == "at"


def test_check_mode_changed_is_would_change(cluster: tuple[SimulatedCluster, str]) -> None:
    """Ansible's convention, in the API and the CLI: check mode's changed = would change."""
    sim, plan = cluster
    data = one_json(clp("deploy", plan, "--check", "--format", "json"))
    assert data["check"] is True and data["changed"] is True
    assert all(n["changed"] for n in data["nodes"].values())
    text = clp("deploy", plan, "--check")
    assert text.stdout.startswith("deploy --check: ok (would change)"), text.stdout
    assert sim.node("node-a").tasks == {}  # nothing was written
    with ClusterBackup(sim.plan) as cb:
        assert cb.deploy(check=True).changed is True
        cb.deploy()
        assert cb.deploy(check=True).changed is False
        fo = cb.failover_backup(check=True)
        assert fo.check and fo.changed is True
        assert cb.failover_backup().changed is True
        assert cb.failover_backup(check=True).changed is False  # already scheduled


def test_failback_refuses_to_replace_a_pending_failover_one_shot(
    cluster: tuple[SimulatedCluster, str],
) -> None:
    sim, plan = cluster
    assert clp("deploy", plan).returncode == 0
    fo = clp("failover-backup", plan)
    assert fo.returncode == 0 and "scheduled at 06:00" in fo.stdout, fo.stdout
    once = "clpbackup-prod-db-shared-daily-once"
    before = sim.node("node-a").tasks[once]

    refused = clp("failback-backup", plan)
    no_traceback(refused)
    assert refused.returncode == 1, refused.stdout
    assert "NEEDS ATTENTION" in refused.stdout and "refused" in refused.stdout
    assert f"{once} at 06:00 (the failover backup's time, FO-2)" in refused.stdout
    assert "--replace" in refused.stdout
    assert sim.node("node-a").tasks[once] == before  # nothing changed

    check = one_json(clp("failback-backup", plan, "--replace", "--check", "--format", "json"))
    assert check["changed"] is True and check["nodes"]["node-a"]["replaced"].startswith(f"{once} at 06:00")
    assert sim.node("node-a").tasks[once] == before

    done = clp("failback-backup", plan, "--replace")
    assert done.returncode == 0, done.stdout
    assert f"FB-1: replaced the pending one-shot {once} at 06:00" in done.stdout
    assert "started now" in done.stdout


def test_status_of_one_node_does_not_blame_the_other(cluster: tuple[SimulatedCluster, str]) -> None:
    _sim, plan = cluster
    assert clp("deploy", plan).returncode == 0
    proc = clp("status", plan, "--node", "node-b")
    no_traceback(proc)
    assert "could not be read" not in proc.stdout, proc.stdout
    assert "owner not checked" in proc.stdout
    assert "owner check skipped: node-a not asked" in proc.stdout
    assert proc.returncode == 0, proc.stdout


def test_restore_source_text_starts_with_the_verdict(cluster: tuple[SimulatedCluster, str]) -> None:
    sim, plan = cluster
    assert clp("deploy", plan).returncode == 0
    sim.advance(hours=24)
    proc = clp("restore-source", plan, "E:")
    assert proc.returncode == 0, proc.stdout
    first = proc.stdout.splitlines()[0]
    assert first.startswith("restore-source: restore E: on node-a from version "), first
    assert "RestoreSource(" not in proc.stdout
    assert "  command: wbadmin start recovery " in proc.stdout


def test_each_command_has_its_own_help() -> None:
    texts = {}
    commands = (
        "failover-backup", "failback-backup", "deploy", "status", "run", "restore-source", "simulate",
        "drill",
    )
    for cmd in commands:
        proc = clp(cmd, "--help")
        assert proc.returncode == 0
        assert "--format" in proc.stdout and "exit codes: 0" in proc.stdout
        texts[cmd] = proc.stdout
    assert "FB-1" in texts["failback-backup"] and "FO-2: after a failover" not in texts["failback-backup"]
    assert "--replace" in texts["failback-backup"] and "--check" in texts["failback-backup"]
    assert "--check" in texts["failover-backup"]
    assert "DRILL-1" in texts["drill"] and "--check" in texts["drill"] and "limited" in texts["drill"]
    assert texts["failover-backup"].split("options:")[0] != texts["failback-backup"].split("options:")[0]


def test_simulate_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    missing = clp("simulate", str(tmp_path / "nope.yaml"), "--write-plan", str(tmp_path / "o.yaml"))
    no_traceback(missing)
    assert missing.returncode == 2 and "nope.yaml" in missing.stderr
    env = {k: v for k, v in os.environ.items() if k != "CLPBACKUP_PASSWORD"}
    proc = subprocess.run(
        [sys.executable, "-m", "clpbackup", "simulate", str(EXAMPLE),
         "--write-plan", str(tmp_path / "o.yaml"), "--format", "json"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=False,
    )
    no_traceback(proc)
    assert proc.returncode == 2, proc.stderr
    assert "CLPBACKUP_PASSWORD" in proc.stderr
    assert json.loads(proc.stdout)["error"]["type"] == "PlanError"


def test_status_shows_the_failure_a_node_raised_alert_1(cluster: tuple[SimulatedCluster, str]) -> None:
    """ALERT-1: the failed run's event-log entry is in `status` (text and JSON), read in the same
    request; before, the batch files raised nothing and status had no events."""
    sim, plan = cluster
    assert clp("deploy", plan).returncode == 0
    sim.shares.unreachable.add("nas01")  # local-daily's target: the next run fails
    run = clp("run", plan, "--job", "local-daily", "--node", "node-a")
    assert run.returncode == 1, run.stdout
    proc = clp("status", plan)
    no_traceback(proc)
    line = next(x for x in proc.stdout.splitlines() if "ALERT-1 event" in x)
    assert "event 101" in line and "(backup-failed)" in line
    assert "backup job local-daily failed on node-a, exit code 1" in line
    assert "C:\\clpbackup\\logs\\local-daily.log" in line
    data = one_json(clp("status", plan, "--format", "json"))
    events = data["nodes"]["node-a"]["events"]
    assert [(e["event_id"], e["kind"], e["entry_type"]) for e in events] == [(101, "backup-failed", "Error")]
    assert data["nodes"]["node-b"]["events"] == []


def test_drill_json_shape_and_exit_codes(cluster: tuple[SimulatedCluster, str]) -> None:
    """DRILL-1 through the real program: --check runs nothing, a drill that passes exits 0 with the
    documented JSON shape (docs/cli.md), a refusal on the standby exits 1 in words."""
    sim, plan = cluster
    with ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
    sim.advance(hours=24)
    check = clp("drill", plan, "--check", "--format", "json")
    assert check.returncode == 0, check.stdout + check.stderr
    data = one_json(check)
    assert data["operation"] == "drill --check" and data["check"] is True and data["changed"] is False
    drills = [d for n in data["nodes"].values() for d in n["drills"]]
    assert drills and all(d["verdict"] == "would-run" and d["commands"] for d in drills)
    assert not any(t.endswith("-drill") for n in sim.nodes for t in n.tasks)
    run = clp("drill", plan, "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    data = one_json(run)
    node = data["nodes"][sim.owner]
    assert node["kind"] == "DrillResult" and node["ok"] is True
    shared = next(d for d in node["drills"] if d["job"] == "shared-daily")
    assert {"job", "verdict", "version", "machine", "recovery_point", "age_minutes", "seconds", "message",
            "token", "written", "commands", "ran_at"} <= set(shared)
    assert shared["verdict"] == "pass" and shared["machine"] == sim.owner
    refused = clp("drill", plan, "--job", "shared-daily", "--node", sim.other)
    no_traceback(refused)
    assert refused.returncode == 1
    assert refused.stdout.startswith("drill: NEEDS ATTENTION")
    assert "refused" in refused.stdout and "RS-1" in refused.stdout
    status = clp("status", plan)
    assert "last drill of shared-daily: pass at " in status.stdout, status.stdout
