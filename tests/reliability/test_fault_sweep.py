"""Fault sweep: every operation, on either node, with each fault at each request index.

For ``deploy``, ``status``, ``failover_backup`` and ``run_backup`` a fault (``drop``, ``http500``,
``slow`` past the read timeout, ``auth``, ``down``) is injected into one node's simulated WinRM
endpoint at the k-th request of the operation, for the k of :data:`SWEEP` (every k the operation
sends to that node when nothing goes wrong, or a stated subset). Each case must end in success
after a retry, or in a typed error for the faulted node alone (the other node's result
unaffected). Whatever happened, with the faults cleared a re-run converges to the state a run
without fault leaves, and at no point is there a duplicate schedule (AT job or task), a
half-written file, a backup started twice, or an exception that is not clpbackup's own.

The table (operation x fault x index -> outcome) and the totals are printed at the end of the
pytest run by ``tests/reliability/conftest.py`` (also without ``-s``) and written to
``<pytest basetemp>/fault-sweep.txt``. ``CLPBACKUP_SWEEP=full`` sweeps every index of every
operation on every example plan (the figures of ``docs/reliability.md``).
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from clpbackup import ClusterBackup, Plan, nodestate, render
from clpbackup.errors import AuthenticationFailed, ClpBackupError, ConnectionFailed, NodeTimeout
from clpbackup.nodestate import NodeState
from clpbackup.parsers.schtasks import ScheduledTask
from clpbackup.results import ClusterResult, NodeOutcome, RunResult, StatusResult
from clpbackup.testing import SimulatedCluster
from clpbackup.transport.psrp import PsrpSession
from clpbackup.transport.retry import RetryPolicy

pytestmark = pytest.mark.reliability

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plans"
PASSWORD_ENV = "CLPBACKUP_PASSWORD"  # what the example plans name
PASSWORD = "Sw33p-Passw0rd!"
FAULTS = ("drop", "http500", "slow", "auth", "down")
PLANS = {"2012": "ws2012-wsb.yaml", "2008R2": "ws2008r2-wsb.yaml", "2003": "ws2003-ntbackup.yaml"}

# The faulted node's sessions have short timeouts, so that "slow" (an answer later than the read
# timeout) costs about two seconds, and quick retries. The other node, the set-up and the re-runs
# use comfortable timeouts: a busy CI machine must not turn them into faults of their own.
TIGHT = {"operation_timeout": 1, "read_timeout": 1.5, "connection_timeout": 1, "deadline": 5}
EASY = {"operation_timeout": 5, "read_timeout": 15, "connection_timeout": 10, "deadline": 60}
SLOW_SECONDS = 1.8  # just past TIGHT read_timeout
FAST_RETRY = RetryPolicy(attempts=3, initial=0.02, max_wait=0.1, jitter=0.02)
WORKERS = 4  # cases at once: the "slow" ones mostly wait


@pytest.fixture(scope="module", autouse=True)
def _password() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PASSWORD_ENV, PASSWORD)
        yield


def load_plan(key: str) -> Plan:
    return Plan.from_file(EXAMPLES / PLANS[key])


def cluster_backup(sim: SimulatedCluster, tight: str | None = None) -> ClusterBackup:
    """A ClusterBackup on the simulated cluster; node ``tight`` gets the short timeouts.

    The timeouts bypass the plan's lower bounds (seconds, not tens of seconds) through
    ``session_factory``, the hook ClusterBackup offers for this.
    """

    def make(plan: Plan, name: str) -> PsrpSession:
        node = plan.node(name)
        update = TIGHT if name == tight else EASY
        conn = plan.connection_for(node).model_copy(update=update)
        return PsrpSession(node.name, node.host, conn, retry=FAST_RETRY)

    return ClusterBackup(sim.plan, session_factory=make, poll_initial=0.02, poll_max=0.1)


# -- what the nodes hold ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What clpbackup may have changed on one node: its files, schedules and backup runs."""

    files: dict[str, bytes]  # every file under scripts_dir (logs aside), and the start script
    temp_files: list[str]  # leftovers of an interrupted write (".clpbackup-tmp", ".clpbackup-b64")
    tasks: dict[str, tuple[str, str, str]]  # clpbackup's schtasks tasks -> (run, kind, start time)
    at_jobs: list[tuple[str, str, str, tuple[int, ...]]]  # (run, kind, start time, weekdays)
    backups: int  # backup tool runs so far (wbadmin start backup, ntbackup backup)


def _walk(sim: SimulatedCluster, node: str, folder: str) -> Iterator[str]:
    model = sim.node(node).model
    with model.lock:
        if not model.fs.is_dir(folder):
            return
        names = model.fs.listdir(folder)
    for name in names:
        path = folder.rstrip("\\") + "\\" + name.rstrip("\\")
        with model.lock:
            is_dir = model.fs.is_dir(path)
        if is_dir:
            yield from _walk(sim, node, path)
        else:
            yield path


LEASE = b"<the node lock's lease>"


def snapshot(sim: SimulatedCluster, node: str) -> Snapshot:
    plan = sim.source_plan
    n = sim.node(node)
    paths = list(_walk(sim, node, plan.scripts_dir))
    start_script = plan.cluster.start_script
    if start_script and n.files.exists(start_script):
        paths.append(start_script)
    temp = [p for p in paths if p.lower().endswith((".clpbackup-tmp", ".clpbackup-b64"))]
    files = {
        # the node lock's file is a lease (LOCK-1): who took it and when, in model time; a re-run a
        # minute later writes another time, so only whether it is there is compared
        p: LEASE if p.lower().endswith("\\clpbackup.lock") else n.files.read_bytes(p)
        for p in paths
        if p not in temp and "\\logs\\" not in p.lower()
    }
    tasks = {
        name: (t.run, t.kind, t.start.strftime("%H:%M"))
        for name, t in n.tasks.items()
        if name.startswith("clpbackup-")
    }
    at_jobs = [(t.run, t.kind, t.start.strftime("%H:%M"), tuple(t.weekdays)) for t in n.at_jobs]
    with n.model.lock:
        history = list(n.model.history)
    backups = sum(
        1
        for r in history
        if (r.program == "wbadmin" and r.arguments.lower().lstrip().startswith("start backup"))
        or (r.program == "ntbackup" and r.arguments.lower().lstrip().startswith("backup"))
    )
    return Snapshot(files, temp, tasks, at_jobs, backups)


def _same_files_and_schedules(a: Snapshot, b: Snapshot) -> bool:
    return a.files == b.files and a.tasks == b.tasks and Counter(a.at_jobs) == Counter(b.at_jobs)


# -- the operations swept ------------------------------------------------------------------------------


def _local_job(plan: Plan) -> str:
    return next(name for name, job in plan.jobs.items() if job.scope == "local")


def _failover_now_job(plan: Plan) -> str | None:
    """The job a failover backup starts at once (``at: now``); ``None`` when it is only scheduled."""
    fb = plan.failover_backup
    return fb.job if fb is not None and fb.at == "now" else None


def _run_local(cb: ClusterBackup, plan: Plan, node: str | None = None) -> ClusterResult[Any]:
    result = cb.run_backup(_local_job(plan), node=node, wait=True, timeout=10)
    assert isinstance(result, ClusterResult)
    return result


def _deployed(sim: SimulatedCluster) -> None:
    with cluster_backup(sim) as cb:
        assert cb.deploy().ok


def _deployed_a_day_ago(sim: SimulatedCluster) -> None:
    _deployed(sim)
    sim.advance(hours=24)  # every daily job has run once: status has results and logs to read


def _nothing(sim: SimulatedCluster) -> None:
    return None


@dataclass(frozen=True)
class Operation:
    """One operation of the sweep: how to prepare the cluster, call it, and repeat it.

    An idempotent operation is simply called again. A run-now (``job`` set: it starts a backup
    each time) is repeated only on the nodes in ``starts_on`` that reported an error, as an
    operator would; and when the error says the backup may have started, the operator looks with
    ``status()`` first (:func:`_ran_since`).
    """

    name: str
    call: Callable[[ClusterBackup, Plan], ClusterResult[Any]]
    setup: Callable[[SimulatedCluster], None]
    job: Callable[[Plan], str | None] = lambda plan: None
    rerun_on: Callable[[ClusterBackup, Plan, str], ClusterResult[Any]] | None = None
    starts_on: Callable[[Plan, list[str]], list[str]] = lambda plan, errored: errored


OPERATIONS = {
    "deploy": Operation("deploy", lambda cb, plan: cb.deploy(), _nothing),
    "status": Operation("status", lambda cb, plan: cb.status(), _deployed_a_day_ago),
    # The plan's own failover_backup.at: 06:00 with schtasks (2012), now (2008 R2: a one-shot task
    # created and run at once), 04:00 with AT (2003). The sweep does not fail over: the owner is the
    # home node, the other node is only read.
    "failover_backup": Operation(
        "failover_backup",
        lambda cb, plan: cb.failover_backup(),
        _deployed,
        job=_failover_now_job,
        rerun_on=lambda cb, plan, node: cb.failover_backup(),
        starts_on=lambda plan, errored: [n for n in errored if n == plan.home_node.name],
    ),
    # The local job: it runs on both nodes (through its AT job's or daily task's /Run), then polled.
    "run_backup": Operation(
        "run_backup",
        _run_local,
        _deployed,
        job=_local_job,
        rerun_on=lambda cb, plan, node: _run_local(cb, plan, node),
    ),
}


# -- reference run (no fault) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """The same operation without a fault: requests per node, and what the nodes hold before/after."""

    requests: dict[str, int]
    before: dict[str, Snapshot]
    after: dict[str, Snapshot]


_REFERENCES: dict[tuple[str, str], Reference] = {}


def reference(plan_key: str, op_name: str) -> Reference:
    key = (plan_key, op_name)
    if key not in _REFERENCES:
        plan = load_plan(plan_key)
        op = OPERATIONS[op_name]
        names = [n.name for n in plan.nodes]
        with SimulatedCluster.from_plan(plan) as sim:
            op.setup(sim)
            before = {n: snapshot(sim, n) for n in names}
            counts = {n: sim.node(n).requests for n in names}
            with cluster_backup(sim) as cb:
                result = op.call(cb, plan)
            assert not result.failed, result
            requests = {n: sim.node(n).requests - counts[n] for n in names}
            after = {n: snapshot(sim, n) for n in names}
        _REFERENCES[key] = Reference(requests, before, after)
    return _REFERENCES[key]


# -- one case --------------------------------------------------------------------------------------------


@dataclass
class CaseRecord:
    """What one case did: the outcome on the faulted node and every broken invariant."""

    plan: str
    op: str
    node: str
    fault: str
    index: int
    outcome: str = ""  # "ok" (success despite the fault) or the typed error's class on the faulted node
    rerun: str = ""  # "converged", "looked with status: it ran", or "NOT converged"
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.plan} {self.op} {self.node} {self.fault}@{self.index}"


def _check_state(
    rec: CaseRecord, where: str, ref: Reference, node: str, before: Snapshot, now: Snapshot
) -> None:
    """No half-written file, no duplicate or unknown schedule, no backup beyond what was asked."""
    v = rec.violations
    if now.temp_files:
        v.append(f"{where}: {node}: temp files left: {now.temp_files}")
    known = (ref.before[node].files, ref.after[node].files)
    for path, data in now.files.items():
        if not any(k.get(path) == data for k in known):
            v.append(f"{where}: {node}: {path} is neither the old nor the new content ({len(data)} bytes)")
    for name, task in now.tasks.items():
        if task not in (ref.before[node].tasks.get(name), ref.after[node].tasks.get(name)):
            v.append(f"{where}: {node}: unexpected task {name} {task}")
    at_known = set(ref.before[node].at_jobs) | set(ref.after[node].at_jobs)
    for job, count in Counter(now.at_jobs).items():
        if count > 1:
            v.append(f"{where}: {node}: duplicate AT job x{count}: {job}")
        if job not in at_known:
            v.append(f"{where}: {node}: unexpected AT job {job}")
    allowed = ref.after[node].backups - ref.before[node].backups
    started = now.backups - before.backups
    if started > allowed:
        v.append(f"{where}: {node}: {started} backup(s) started, {allowed} asked for")


def _ran_since(cb: ClusterBackup, job: str, node: str, since: str) -> bool:
    """What an operator does when an error says a backup may have started: look with status()."""
    value = cb.status(node=node)[node]
    if not isinstance(value, StatusResult):
        return False
    once = render.task_name(cb.plan, job, once=True)  # status lists the one-shot task without its job
    mine = [s for s in value.schedules if s.job == job or s.name == once]
    return any(s.last_run is not None and s.last_run >= since for s in mine)


def run_case(plan_key: str, op_name: str, node: str, fault: str, index: int) -> CaseRecord:
    """Inject ``fault`` at ``node``'s ``index``-th request of the operation; check; re-run; check."""
    plan = load_plan(plan_key)
    op = OPERATIONS[op_name]
    ref = reference(plan_key, op_name)
    rec = CaseRecord(plan_key, op_name, node, fault, index)
    names = [n.name for n in plan.nodes]
    started = time.monotonic()
    with SimulatedCluster.from_plan(plan) as sim:
        op.setup(sim)
        before = {n: snapshot(sim, n) for n in names}
        target = sim.node(node)
        count0 = target.requests
        call_time = sim.clock.now().strftime("%Y-%m-%d %H:%M")  # the nodes' time zone is UTC
        target.inject(fault, at=index, seconds=SLOW_SECONDS)
        result: ClusterResult[Any] | None = None
        try:
            with cluster_backup(sim, tight=node) as cb:
                result = op.call(cb, plan)
        except ClpBackupError as exc:
            rec.outcome = f"raised {type(exc).__name__}"
            rec.violations.append(f"the whole call raised {type(exc).__name__}: {exc}")
        except Exception as exc:  # the sweep's point: nothing but clpbackup's own errors
            rec.outcome = f"FOREIGN {type(exc).__name__}"
            rec.violations.append(f"not a clpbackup error: {type(exc).__name__}: {exc}")
        if target.requests - count0 < index:
            rec.violations.append("the fault never fired (fewer requests than without fault)")
        target.clear_faults()

        errored: list[str] = []
        if result is not None:
            for n in names:
                value = result[n]
                if isinstance(value, ClpBackupError):
                    errored.append(n)
                    if n != node:
                        rec.violations.append(f"{n} (not faulted) failed: {type(value).__name__}: {value}")
                    elif value.node != node:
                        rec.violations.append(f"the error does not name {node}: {value!r}")
                    else:
                        rec.outcome = type(value).__name__
                elif not isinstance(value, NodeOutcome):
                    rec.violations.append(f"{n}: not a result: {value!r}")
                else:
                    if isinstance(value, RunResult) and value.outcome != "success":
                        rec.violations.append(f"{n}: run outcome {value.outcome}: {value.problems}")
                    if n == node:
                        rec.outcome = "ok"
        faulted = {n: snapshot(sim, n) for n in names}
        for n in names:
            _check_state(rec, "after the faulted call", ref, n, before[n], faulted[n])
            if op_name == "status" and not _same_files_and_schedules(before[n], faulted[n]):
                rec.violations.append(f"status changed {n}")
        job = op.job(plan)
        lost = result.get(node) if result is not None else None
        if job and isinstance(lost, (ConnectionFailed, NodeTimeout)):
            # After a lost answer clpbackup reads the node again (never starts twice): an error of
            # this kind must mean the backup did not start.
            if faulted[node].backups != before[node].backups:
                rec.violations.append(f"{type(lost).__name__} on {node} although its backup had started")

        # -- with the faults cleared, a re-run converges -------------------------------------------
        if job is None:
            with cluster_backup(sim) as cb:
                again = op.call(cb, plan)
            if again.failed:
                rec.violations.append(f"re-run failed: {again!r}")
        elif result is not None and op.starts_on(plan, errored):
            assert op.rerun_on is not None
            sim.advance(minutes=1)  # a new run gets a new last-run time
            with cluster_backup(sim) as cb:
                for n in op.starts_on(plan, errored):
                    if "before starting it again" in str(result[n]) and _ran_since(cb, job, n, call_time):
                        rec.rerun = "looked with status: it ran"
                        continue
                    again = op.rerun_on(cb, plan, n)
                    if again.failed:
                        rec.violations.append(f"re-run on {n} failed: {again!r}")
        final = {n: snapshot(sim, n) for n in names}
        for n in names:
            _check_state(rec, "after the re-run", ref, n, before[n], final[n])
            if not _same_files_and_schedules(final[n], ref.after[n]):
                rec.violations.append(f"{n} did not converge to the state a run without fault leaves")
            total = final[n].backups - before[n].backups
            wanted = ref.after[n].backups - ref.before[n].backups
            if total != wanted:
                rec.violations.append(f"{n}: {total} backup(s) in all, {wanted} asked for")
        if rec.violations:
            rec.rerun = "NOT converged"
        elif not rec.rerun:
            rec.rerun = "converged"
    rec.seconds = time.monotonic() - started
    return rec


# -- what is swept --------------------------------------------------------------------------------------

ALL = None  # every index the operation sends to that node without fault

#: (plan, operation) -> {node role: indices}; roles "home" (the owner) and "other".
#: Request indices per node: 1 pool Create, 2 its Receive, 3 inspect Command, 4 its Receive,
#: 5 apply Command, 6 its Receive, 7 Delete. status and a no-op read: 5 = Delete. run_backup: 7 and
#: 8 are the poll's inspect, 9 the Delete. The non-owner in failover_backup is only read (5 = Delete).
SWEEP: dict[tuple[str, str], dict[str, tuple[int, ...] | None]] = {
    # The richest deploy (AT jobs, the start-script block, failover.bat): every index on the home
    # node; on the other node the answers of the reads and the whole apply.
    ("2008R2", "deploy"): {"home": ALL, "other": (2, 4, 5, 6)},
    # the apply (its Command, its answer): schtasks (2012), AT + NTBackup selection files (2003)
    ("2012", "deploy"): {"home": (5, 6)},
    ("2003", "deploy"): {"home": (5, 6)},
    # read-only: the pool's answer and the inspect's answer (status must change nothing)
    ("2012", "status"): {"home": (2, 4), "other": (4,)},
    # at "now" (a one-shot task created and run at once on the owner): the reads' answers, the
    # apply and the Delete there; the inspect's answer on the other node (owner decided without it)
    ("2008R2", "failover_backup"): {"home": (2, 4, 5, 6, 7), "other": (4,)},
    # at a time: schtasks /SC ONCE (2012), AT (2003): the apply on the owner
    ("2012", "failover_backup"): {"home": (5, 6)},
    ("2003", "failover_backup"): {"home": (5, 6)},
    # NTBackup started through the AT job's At<id> task, then polled: from the inspect's answer to
    # the poll's answer on the home node; the start's and the poll's answers on the other
    ("2003", "run_backup"): {"home": (4, 5, 6, 7, 8), "other": (6, 8)},
}


def _role_node(plan: Plan, role: str) -> str:
    home = plan.home_node.name
    return home if role == "home" else next(n.name for n in plan.nodes if n.name != home)


def cases_for(plan_key: str, op_name: str, full: bool) -> list[tuple[str, str, str, str, int]]:
    """Every case of one (plan, operation) group, in table order."""
    plan = load_plan(plan_key)
    ref = reference(plan_key, op_name)
    roles = {"home": ALL, "other": ALL} if full else SWEEP[(plan_key, op_name)]
    out = []
    for role, indices in roles.items():
        node = _role_node(plan, role)
        for fault in FAULTS:
            for index in indices or range(1, ref.requests[node] + 1):
                out.append((plan_key, op_name, node, fault, index))
    return out


def _guarded(plan_key: str, op_name: str, node: str, fault: str, index: int) -> CaseRecord:
    """run_case, with a failure of the case itself (set-up, checks) recorded rather than lost."""
    try:
        return run_case(plan_key, op_name, node, fault, index)
    except Exception as exc:
        rec = CaseRecord(plan_key, op_name, node, fault, index, outcome=f"CRASH {type(exc).__name__}")
        rec.violations.append(f"the case itself failed: {type(exc).__name__}: {exc}")
        return rec


FULL = os.environ.get("CLPBACKUP_SWEEP", "") == "full"
GROUPS = [(p, o) for p in PLANS for o in OPERATIONS] if FULL else list(SWEEP)


@pytest.mark.slow
@pytest.mark.parametrize(("plan_key", "op_name"), GROUPS, ids=[f"{p}-{o}" for p, o in GROUPS])
def test_fault_sweep(plan_key: str, op_name: str, sweep_records: list[CaseRecord]) -> None:
    cases = cases_for(plan_key, op_name, FULL)
    # Faults are expected here by the hundred: keep the retry warnings out of the report (pypsrp
    # logs each read timeout at ERROR, with a traceback whose frames a captured record keeps alive).
    quiet = [logging.getLogger(n) for n in ("clpbackup", "pypsrp", "urllib3")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.CRITICAL)
    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            records = list(pool.map(lambda c: _guarded(*c), cases))
    finally:
        for lg, level in zip(quiet, levels, strict=True):
            lg.setLevel(level)
    sweep_records.extend(records)
    broken = [f"{r.label}: {v}" for r in records for v in r.violations]
    assert not broken, "\n".join(broken)


# -- regressions: what the sweep found -------------------------------------------------------------------
#
# run_backup and failover_backup(at="now") sent the commands that start a backup in one apply; when
# its answer was lost (connection dropped, HTTP 500, node reset, read timeout) they reported
# ConnectionFailed although the node had started the backup, so the operator's re-run started it
# a second time. They now read the node again (as deploy does) and send only what is missing.


def _backups(sim: SimulatedCluster, node: str) -> int:
    return snapshot(sim, node).backups


@pytest.mark.parametrize("fault", ["drop", "http500", "down"])
def test_a_lost_answer_to_run_now_is_read_back_and_the_backup_runs_once(fault: str) -> None:
    plan = load_plan("2003")
    with SimulatedCluster.from_plan(plan) as sim:
        _deployed(sim)
        sim.node("fs-01").inject(fault, at=6)  # the answer (Receive) of the apply that runs At<id>
        with cluster_backup(sim, tight="fs-01") as cb:
            result = _run_local(cb, plan)
        assert not result.failed, result
        assert all(isinstance(v, RunResult) and v.outcome == "success" for v in result.values())
        assert _backups(sim, "fs-01") == 1 and _backups(sim, "fs-02") == 1


def test_a_run_now_that_never_reached_the_node_is_started_after_reading_it_back() -> None:
    plan = load_plan("2003")
    with SimulatedCluster.from_plan(plan) as sim:
        _deployed(sim)
        sim.node("fs-01").inject("drop", at=5)  # the apply's Command: the node never ran it
        with cluster_backup(sim, tight="fs-01") as cb:
            result = _run_local(cb, plan)
        assert not result.failed, result
        assert _backups(sim, "fs-01") == 1


def test_a_lost_answer_to_failover_now_is_read_back_and_the_backup_runs_once() -> None:
    plan = load_plan("2008R2")  # failover_backup: {at: now}
    with SimulatedCluster.from_plan(plan) as sim:
        _deployed(sim)
        sim.node("erp1").inject("drop", at=6)
        with cluster_backup(sim, tight="erp1") as cb:
            result = cb.failover_backup()
        assert not result.failed, result
        assert result["erp1"].changed  # type: ignore[union-attr]
        assert _backups(sim, "erp1") == 1 and _backups(sim, "erp2") == 0


def test_credentials_refused_after_the_start_say_the_backup_may_have_started() -> None:
    plan = load_plan("2003")
    with SimulatedCluster.from_plan(plan) as sim:
        _deployed(sim)
        sim.node("fs-01").inject("auth", at=6)  # refused on the apply's answer: it ran on the node
        with cluster_backup(sim, tight="fs-01") as cb:
            result = _run_local(cb, plan)
        err = result["fs-01"]
        assert isinstance(err, AuthenticationFailed) and err.node == "fs-01"
        assert "may have scheduled or started the backup" in str(err) and "status()" in str(err)
        assert PASSWORD not in str(err) and PASSWORD not in repr(err)
        assert isinstance(result["fs-02"], RunResult) and result["fs-02"].outcome == "success"
        assert _backups(sim, "fs-01") == 1


def test_a_poll_refused_after_the_start_says_the_backup_was_started() -> None:
    plan = load_plan("2003")
    with SimulatedCluster.from_plan(plan) as sim:
        _deployed(sim)
        sim.node("fs-01").inject("auth", at=8)  # the poll's answer
        with cluster_backup(sim, tight="fs-01") as cb:
            result = _run_local(cb, plan)
        err = result["fs-01"]
        assert isinstance(err, AuthenticationFailed)
        assert "local-daily was started on the node" in str(err) and "status()" in str(err)
        assert _backups(sim, "fs-01") == 1


def _task(last_run: datetime | None, state: str = "ready") -> ScheduledTask:
    return ScheduledTask(
        name="At2",
        host=None,
        next_run=None,
        status=None,
        state=state,  # type: ignore[arg-type]
        last_run=last_run,
        last_result=0 if last_run else None,
        author=None,
        task_to_run=None,
        run_as_user=None,
        enabled=True,
        triggers=(),
    )


def test_run_started_tells_a_run_that_happened_from_one_that_did_not() -> None:
    t0, t1 = datetime(2024, 1, 15, 0, 0), datetime(2024, 1, 15, 0, 5)
    never, ran0 = NodeState(tasks=[_task(None)]), NodeState(tasks=[_task(t0)])
    assert nodestate.run_started(never, NodeState(tasks=[_task(t1)]), "at2")
    assert nodestate.run_started(ran0, NodeState(tasks=[_task(t1)]), "At2")
    assert nodestate.run_started(ran0, NodeState(tasks=[_task(t0, "running")]), "At2")
    assert not nodestate.run_started(ran0, NodeState(tasks=[_task(t0)]), "At2")  # the old run only
    assert not nodestate.run_started(never, NodeState(tasks=[_task(None)]), "At2")
    assert not nodestate.run_started(never, NodeState(tasks=[]), "At2")  # the task is gone
