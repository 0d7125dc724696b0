"""Stop means stop (issue #10).

SIGINT during ``clpbackup deploy`` used to print "interrupted" and exit 130 while the worker threads
went on: every request of the deploy followed and the whole deploy landed. Now, after Ctrl-C (or a
``KeyboardInterrupt`` in the API), no new request is started: the one in flight finishes, the
runspace pool is closed, and the result says per node what was written and what was not. A later
deploy converges. The simulator's request counter shows what the node received.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from clpbackup import ClusterBackup, Plan
from clpbackup.errors import Cancelled
from clpbackup.operations import OperationInterrupted
from clpbackup.results import DeployResult
from clpbackup.testing import SimulatedCluster
from clpbackup.testing.simulate_cli import plan_yaml

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plans"
PASSWORD = "St0p-Means-St0p!"
INSPECT_COMMAND = 3  # pool Create, its Receive, then the inspect Command (docs/reliability.md)


@pytest.fixture
def plan2012(monkeypatch: pytest.MonkeyPatch) -> Plan:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    return Plan.from_file(EXAMPLES / "ws2012-wsb.yaml")


def _written(sim: SimulatedCluster, plan: Plan) -> dict[str, list[str]]:
    out = {}
    for n in sim.nodes:
        files = n.files.listdir(plan.scripts_dir) if n.files.exists(plan.scripts_dir) else []
        out[n.name] = sorted([*files, *n.tasks])
    return out


def _wait_for(sim: SimulatedCluster, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not all(n.requests >= count for n in sim.nodes):
        if time.monotonic() > deadline:
            seen = [n.requests for n in sim.nodes]
            raise AssertionError(f"the nodes did not reach request {count}: {seen}")
        time.sleep(0.01)


def test_sigint_during_deploy_starts_no_new_request_and_says_what_was_written(
    plan2012: Plan, tmp_path: Path
) -> None:
    with SimulatedCluster.from_plan(plan2012, latency=0.5) as sim:
        local = tmp_path / "local.yaml"
        local.write_text(plan_yaml(sim.plan), encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-m", "clpbackup", "deploy", str(local)],
            env={**os.environ, "CLPBACKUP_PASSWORD": PASSWORD},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for(sim, INSPECT_COMMAND)
            at_signal = [n.requests for n in sim.nodes]
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        after = [n.requests for n in sim.nodes]
        assert proc.returncode == 130, (out, err)
        # the request in flight finishes (the inspect's Receive), the pool is closed: no apply
        assert all(a - s <= 3 for s, a in zip(at_signal, after, strict=True)), (at_signal, after)
        assert _written(sim, plan2012) == {"node-a": [], "node-b": []}
        text = out + err
        for n in plan2012.nodes:
            assert f"{n.name}: stopped" in text and "nothing written" in text, text
        time.sleep(1.5)  # nothing arrives later either (no thread left running)
        assert [n.requests for n in sim.nodes] == after
        with ClusterBackup(sim.plan) as cb:  # a later deploy converges
            assert cb.deploy().ok
            assert not cb.deploy().changed


def test_keyboard_interrupt_in_the_api_raises_with_the_result_per_node(plan2012: Plan) -> None:
    with SimulatedCluster.from_plan(plan2012, latency=0.3) as sim, ClusterBackup(sim.plan) as cb:
        def interrupt() -> None:
            _wait_for(sim, INSPECT_COMMAND)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: Python raises KeyboardInterrupt in the main thread

        threading.Thread(target=interrupt, daemon=True).start()
        with pytest.raises(OperationInterrupted) as info:
            cb.deploy()
        settled = [n.requests for n in sim.nodes]
        result = info.value.result
        assert set(result) == {"node-a", "node-b"}
        for value in result.values():
            assert isinstance(value, Cancelled) and "nothing written" in str(value), value
        assert isinstance(info.value, KeyboardInterrupt)
        assert _written(sim, plan2012) == {"node-a": [], "node-b": []}
        time.sleep(1.0)
        assert [n.requests for n in sim.nodes] == settled
        # the same object works afterwards: a new deploy converges
        again = cb.deploy()
        assert again.ok and all(isinstance(v, DeployResult) for v in again.values())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_cancelled_ansible_task_starts_nothing_new(plan2012: Plan, tmp_path: Path, sig: int) -> None:
    """The module run as Ansible runs it (the module file, its arguments in a JSON file); the task is
    cancelled with SIGTERM or SIGINT while the nodes are being read."""
    import json

    from clpbackup.ansible import module_path

    with SimulatedCluster.from_plan(plan2012, latency=0.5) as sim:
        local = tmp_path / "local.yaml"
        local.write_text(plan_yaml(sim.plan), encoding="utf-8")
        args = tmp_path / "args.json"
        args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"plan": str(local), "state": "deployed"}}))
        proc = subprocess.Popen(
            [sys.executable, module_path(), str(args)],
            env={**os.environ, "CLPBACKUP_PASSWORD": PASSWORD},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for(sim, INSPECT_COMMAND)
            at_signal = [n.requests for n in sim.nodes]
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        after = [n.requests for n in sim.nodes]
        answer = json.loads(out)
        assert answer["failed"] and answer["interrupted"], answer
        assert "nothing written" in answer["msg"] and PASSWORD not in out + err
        assert all(a - s <= 3 for s, a in zip(at_signal, after, strict=True)), (at_signal, after)
        assert _written(sim, plan2012) == {"node-a": [], "node-b": []}


def test_ctrl_c_while_waiting_for_a_backup_says_it_still_runs(
    plan2012: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during run_backup's waiting stops the waiting, not the backup the node runs. (The
    simulated backups finish at once, so the poll answers "running" here and Ctrl-C comes in the
    sleep between two polls.)"""
    from clpbackup import operations
    from clpbackup.results import ClusterResult, RunResult

    with SimulatedCluster.from_plan(plan2012) as sim, ClusterBackup(sim.plan) as cb:

        def still_running(job: str, nodes: list[str], before: object) -> ClusterResult[RunResult]:
            return ClusterResult("run", {n: RunResult(n, job=job, outcome="running") for n in nodes})

        def ctrl_c(_seconds: float) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(cb, "_poll_runs", still_running)
        monkeypatch.setattr(operations.time, "sleep", ctrl_c)
        with pytest.raises(OperationInterrupted) as info:
            cb.run_backup("local-daily")
        lines = info.value.lines()
        assert len(lines) == 2 and all("still runs" in line and "status()" in line for line in lines), lines
        assert all(isinstance(v, RunResult) and v.outcome == "running" for v in info.value.result.values())
