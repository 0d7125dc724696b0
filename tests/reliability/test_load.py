"""Load: status over 100 simulated nodes (50 two-node clusters) with random faults at 5 % of requests.

Every node must be reported — a ``StatusResult`` or a typed error naming that node — and afterwards
no thread, no socket and no client object may be left behind, and memory must stay bounded.

* 50 clusters in one process, built from the three example plans in turn (2012 schtasks, 2008 R2
  AT, 2003 NTBackup + AT), then ``status()`` on all of them, ten clusters at a time, in
  :data:`ROUNDS` rounds. Each ``status()`` is its own ``ClusterBackup`` (two sessions, both nodes
  in parallel), closed after the call.
* Faults: each request a node gets fails with probability 5 % (planted in advance on each of the
  node's next 40 requests, ``random.Random`` seeded with :data:`SEED`): one of drop / http500 /
  slow / auth / down. Retries make more requests, which may fail too.
* Threads: ``threading.active_count()`` back to what it was before the test (clusters stopped,
  every ``ClusterBackup`` closed). Sockets: the ``socket:`` entries of ``/proc/self/fd`` back to
  their number before the test. Objects: no ``ClusterBackup``, session, runspace pool, WSMan,
  requests session, connection pool, executor, simulated cluster, server, shell, socket or thread
  more than before (``gc.get_objects()`` after a full collection).
* Memory: the resident set, sampled every 20 ms, may grow by at most :data:`RSS_BOUND` at its peak
  (100 simulated nodes with their servers and models, the clients, all in this one process).
  ``tracemalloc`` would be finer but makes the run five times slower.

The figures are printed in the terminal summary (``tests/reliability/conftest.py``).
"""

from __future__ import annotations

import gc
import logging
import os
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from clpbackup import ClusterBackup, Plan
from clpbackup.errors import ClpBackupError
from clpbackup.results import ClusterResult, StatusResult
from clpbackup.testing import SimulatedCluster
from clpbackup.transport.psrp import PsrpSession
from clpbackup.transport.retry import RetryPolicy

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plans"
PLAN_FILES = ("ws2012-wsb.yaml", "ws2008r2-wsb.yaml", "ws2003-ntbackup.yaml")
PASSWORD = "L0ad-Passw0rd!"
CLUSTERS = 50
FAULT_RATE = 0.05
FAULT_HORIZON = 40  # requests per node that may get a fault (a status is 5, with retries more)
FAULTS = ("drop", "http500", "slow", "auth", "down")
SEED = 20240115
PARALLEL = 10  # clusters whose status runs at once
TIMEOUTS = {"operation_timeout": 1, "read_timeout": 2, "connection_timeout": 2, "deadline": 10}
ROUNDS = 2
SLOW_SECONDS = 2.5  # past read_timeout
RETRY = RetryPolicy(attempts=3, initial=0.02, max_wait=0.1, jitter=0.02)
RSS_BOUND = 64 * 1024 * 1024  # growth of the resident set at its peak (measured: about 20 MiB)


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)


def cluster_backup(plan: Plan, timeouts: dict[str, Any] = TIMEOUTS) -> ClusterBackup:
    """Short timeouts and quick retries, as in the fault sweep (the plan's bounds are for real nodes)."""

    def make(p: Plan, name: str) -> PsrpSession:
        node = p.node(name)
        conn = p.connection_for(node).model_copy(update=timeouts)
        return PsrpSession(node.name, node.host, conn, retry=RETRY)

    return ClusterBackup(plan, session_factory=make)


def sockets() -> int:
    """Open sockets of this process (``/proc/self/fd`` entries that are sockets)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:  # the fd of the listdir itself, closed meanwhile
            continue
    return count


def settle(baseline_threads: int, baseline_sockets: int, seconds: float = 15.0) -> tuple[int, int]:
    """Wait (bounded) for finished threads and closed sockets to go; the counts then."""
    deadline = time.monotonic() + seconds
    while True:
        gc.collect()
        threads, socks = threading.active_count(), sockets()
        if (threads <= baseline_threads and socks <= baseline_sockets) or time.monotonic() > deadline:
            return threads, socks
        time.sleep(0.1)


def plant_faults(rng: random.Random) -> list[tuple[int, str]]:
    """For one node: each of its next FAULT_HORIZON requests fails with probability FAULT_RATE."""
    return [(k, rng.choice(FAULTS)) for k in range(1, FAULT_HORIZON + 1) if rng.random() < FAULT_RATE]


def status_round(
    sims: list[SimulatedCluster], rng: random.Random, outcomes: Counter[str], problems: list[str]
) -> tuple[Counter[str], int]:
    """status() on every cluster with random faults; every node must be reported.

    Answers the faults that fired (by kind: a planted fault fires when the node gets that many
    requests) and the number of requests the nodes answered or failed.
    """
    planted: dict[tuple[int, str], list[tuple[int, str]]] = {}
    before: dict[tuple[int, str], int] = {}
    for i, sim in enumerate(sims):
        for node in sim.nodes:
            planted[(i, node.name)] = faults = plant_faults(rng)
            before[(i, node.name)] = node.requests
            for k, fault in faults:
                node.inject(fault, at=k, seconds=SLOW_SECONDS)

    def one(sim: SimulatedCluster) -> ClusterResult[StatusResult] | BaseException:
        try:
            with cluster_backup(sim.plan) as cb:
                return cb.status()
        except BaseException as exc:  # a whole-call failure is itself a finding
            return exc

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        results = list(pool.map(one, sims))
    fired: Counter[str] = Counter()
    requests = 0
    for i, (sim, result) in enumerate(zip(sims, results, strict=True)):
        name = sim.source_plan.cluster.name
        for node in sim.nodes:
            made = node.requests - before[(i, node.name)]
            requests += made
            fired.update(fault for k, fault in planted[(i, node.name)] if k <= made)
            node.clear_faults()
        if isinstance(result, BaseException):
            problems.append(f"{name}: the whole status call raised {type(result).__name__}: {result}")
            continue
        for n in sim.source_plan.nodes:
            value = result.get(n.name)
            if isinstance(value, StatusResult):
                outcomes["StatusResult"] += 1
            elif isinstance(value, ClpBackupError) and value.node == n.name:
                outcomes[type(value).__name__] += 1
            else:
                problems.append(f"{name}/{n.name}: not reported: {value!r}")
    return fired, requests


def rss() -> int:
    """Resident set size of this process, bytes (``VmRSS`` of ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class RssPeak:
    """The highest RSS seen while the block runs (sampled every 20 ms on a thread of its own)."""

    def __init__(self) -> None:
        self.peak = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss())

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        del self._thread  # not to be counted among the objects left behind
        self.peak = max(self.peak, rss())


#: What a leak would keep alive: clients, their sessions and pools, the simulated servers.
LEAK_TYPES = (
    "ClusterBackup",
    "PsrpSession",
    "RunspacePool",
    "WSMan",
    "Session",  # requests
    "HTTPConnectionPool",
    "ThreadPoolExecutor",
    "SimulatedCluster",
    "WinRMServer",
    "PSRPShell",
    "socket",
    "Thread",
)


def census() -> Counter[str]:
    """Live objects of :data:`LEAK_TYPES` (by class name), after a full collection."""
    gc.collect()
    return Counter(name for o in gc.get_objects() if (name := type(o).__name__) in LEAK_TYPES)


def test_status_over_100_nodes_with_5_percent_faults(password: None, load_figures: list[str]) -> None:
    plans = [Plan.from_file(EXAMPLES / f) for f in PLAN_FILES]
    quiet = [logging.getLogger(n) for n in ("clpbackup", "pypsrp", "urllib3")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        # Hundreds of expected retries; pypsrp logs each ReadTimeout at ERROR with its traceback,
        # and a captured record would keep the frames (and their sockets) alive past the test.
        lg.setLevel(logging.CRITICAL)
    try:
        # Warm up (imports, caches) on one cluster, so that the figures below are the load's own.
        with SimulatedCluster.from_plan(plans[0]) as warm, cluster_backup(warm.plan) as cb:
            assert not cb.status().failed
        del warm, cb
        threads0, sockets0 = settle(threading.active_count(), sockets())
        objects0 = census()
        rss0 = rss()
        rng = random.Random(SEED)
        outcomes: Counter[str] = Counter()
        problems: list[str] = []
        fired: Counter[str] = Counter()
        requests = 0
        started = time.monotonic()
        with RssPeak() as memory, ExitStack() as stack:
            sims = []
            for i in range(CLUSTERS):
                plan = plans[i % len(plans)]
                # Distinct cluster names: 50 clusters, not one cluster 50 times.
                cluster = plan.cluster.model_copy(update={"name": f"c{i:02d}"})
                named = plan.model_copy(update={"cluster": cluster})
                sims.append(stack.enter_context(SimulatedCluster.from_plan(named)))
            nodes = sum(len(s.nodes) for s in sims)
            threads_busy, sockets_busy = threading.active_count() - 1, sockets()  # less the sampler
            for _ in range(ROUNDS):
                round_fired, round_requests = status_round(sims, rng, outcomes, problems)
                fired += round_fired
                requests += round_requests
            elapsed = time.monotonic() - started
            del sims
    finally:
        for lg, level in zip(quiet, levels, strict=True):
            lg.setLevel(level)
    threads1, sockets1 = settle(threads0, sockets0)
    objects1 = census()
    leaked = objects1 - objects0
    grew = memory.peak - rss0

    reported = sum(outcomes.values())
    load_figures += [
        f"{CLUSTERS} clusters, {nodes} nodes, {ROUNDS} rounds of status: {reported} node reports "
        f"({', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))}); not reported: {len(problems)}",
        f"faults (each request fails with probability {FAULT_RATE:.0%}, seed {SEED}): {sum(fired.values())} "
        f"fired in {requests} requests ({', '.join(f'{k} {v}' for k, v in sorted(fired.items()))})",
        f"threads: {threads0} before, {threads_busy} with the clusters up, {threads1} after; "
        f"sockets: {sockets0} before, {sockets_busy} with the clusters up, {sockets1} after",
        f"objects left (clients, sessions, pools, servers, shells, sockets, threads): "
        f"{sum(leaked.values())} {dict(leaked) or ''}".rstrip(),
        f"memory: RSS {rss0 / 2**20:.0f} MiB before, peak {memory.peak / 2**20:.0f} MiB "
        f"(+{grew / 2**20:.0f} MiB, bound +{RSS_BOUND / 2**20:.0f} MiB)",
        f"time: {elapsed:.1f} s ({CLUSTERS} clusters started, {ROUNDS} rounds, clusters stopped)",
    ]
    assert not problems, "\n".join(problems)
    assert reported == ROUNDS * nodes
    assert sum(fired.values()) > 0
    assert threads1 <= threads0, f"threads left behind: {threads1 - threads0}"
    assert sockets1 <= sockets0, f"sockets left open: {sockets1 - sockets0}"
    assert not leaked, f"objects left behind: {dict(leaked)}"
    assert grew < RSS_BOUND


def test_simulator_handshakes_never_pull_the_environment_from_under_other_threads(
    password: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (found by the load test): the simulator's NTLM acceptor deleted NTLM_USER_FILE
    after each handshake; a client thread reading the environment at that moment (requests does,
    for proxies, on every request) got ``KeyError: 'NTLM_USER_FILE'``, reported as ConnectionFailed."""
    import urllib.request

    from clpbackup.transport import open_session

    monkeypatch.delenv("NTLM_USER_FILE", raising=False)
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                urllib.request.getproxies_environment()
            except KeyError as exc:
                errors.append(exc)

    thread = threading.Thread(target=reader, daemon=True)
    with SimulatedCluster.from_plan(Plan.from_file(EXAMPLES / PLAN_FILES[0])) as sim:
        thread.start()
        try:
            for _ in range(12):  # a fresh session each time: one NTLM handshake each
                with open_session(sim.plan, "node-a", retry=RetryPolicy.none()) as s:
                    assert s.facts().hostname == "NODE-A"
        finally:
            stop.set()
            thread.join()
    assert not errors
    assert os.environ.get("NTLM_USER_FILE", "") == ""  # the caller had none: none (empty) after
