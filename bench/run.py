#!/usr/bin/env python3
"""clpbackup benchmarks: WS-Man round trips and wall time, per node, per cluster and over a fleet.

Over WinRM, time is round trips: every WS-Man request costs a network round trip plus the node's
own work. This script measures clpbackup against simulated nodes (``clpbackup.testing``: real
WinRM endpoints on 127.0.0.1 with injected per-request latency) side by side with the way a typical
ops script does the same work — one pypsrp ``Client.execute_cmd`` / ``execute_ps`` / ``copy`` per
command and file — measured in the same run::

    python bench/run.py              # everything (about a minute and a half on 2 cores)
    python bench/run.py --quick      # fewer repetitions and fleet sizes (well under a minute)
    python bench/run.py --json       # the figures as one JSON object on stdout
    python bench/run.py --markdown   # the figures as the tables of bench/RESULTS.md
    python bench/run.py --from-json RUN.json   # the tables of a saved --json run
    python bench/run.py --only fleet           # one section (repeatable)

Sections (see bench/README.md for what each figure means and how it is measured):

* requests  — WS-Man requests per node for deploy, a no-op deploy, status, failover_backup and (after
  a day of backups) the restore drill of
  examples/plans/ws2012-wsb.yaml (authentication legs counted apart), and the same deploy done by
  the per-command baseline;
* latency   — wall time of those operations at 0, 20 and 50 ms per request;
* parallel  — deploy on both nodes ÷ deploy on one node, at 50 ms;
* fleet     — deploy and status over 1 (the reference), 5, 25 and 50 clusters (up to 100 nodes) at
  50 ms with bounded concurrency: wall time, CPU, peak memory, growth, and the lower bounds of the
  status time (latency, client CPU, pypsrp's own CPU, the machine's cores);
* floor     — (with fleet) client CPU of one node's status: pypsrp alone against clpbackup;
* startup   — ``import clpbackup`` ÷ ``import pypsrp.client``, ``clpbackup --help``, and the Ansible
  module's process (Ansible starts one per task).

For the parallel, floor and fleet figures the simulated nodes are served by a separate host process
(``_fleet-host``), as real nodes are: the measured process then holds and spends only what an
operator's controller does. Only the request counts are deterministic; tests assert those
(tests/unit/test_bench_smoke.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PLAN_FILE = ROOT / "examples" / "plans" / "ws2012-wsb.yaml"
PASSWORD = "Bench-Passw0rd!"  # the simulated nodes accept what the plan's variable says
NODES = ("node-a", "node-b")
LATENCIES_MS = (0, 20, 50)
FLEET_SIZES = (5, 25, 50)
FLEET_LATENCY_MS = 50
FLEET_CONCURRENCY = 16  # clusters in flight at once; each ClusterBackup works its 2 nodes in parallel

TARGETS = {
    "deploy_requests_per_node": ("<=", 7, "pool open 2, inspect 2, apply 2, close 1"),
    "noop_deploy_requests_per_node": ("<=", 5, "the apply is skipped"),
    "baseline_ratio": (">=", 10, "baseline requests / clpbackup requests, same deploy"),
    "parallel_ratio": ("<=", 1.3, "deploy on both nodes / on one node, 50 ms"),
    "fleet_status_ratio": ("<=", 3, "status of 50 clusters (100 nodes) / of one cluster, 50 ms"),
    "import_ratio": ("<=", 1.5, "python -c 'import clpbackup' / 'import pypsrp.client'"),
}

# The bench process plays the operator: the plan's password variable is set here.
os.environ.setdefault("CLPBACKUP_PASSWORD", PASSWORD)


# -- helpers ------------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def load_plan() -> Any:
    from clpbackup import Plan

    return Plan.from_file(PLAN_FILE)


@contextlib.contextmanager
def cluster(latency_ms: float = 0) -> Iterator[Any]:
    from clpbackup.testing import SimulatedCluster

    with SimulatedCluster.from_plan(load_plan(), latency=latency_ms / 1000) as sim:
        yield sim


def counts(sim: Any) -> dict[str, tuple[int, int]]:
    """(WS-Man requests, auth legs) per node so far."""
    return {n: (sim.node(n).requests, sim.node(n).server.auth_requests) for n in NODES}


def delta(sim: Any, before: dict[str, tuple[int, int]]) -> dict[str, dict[str, int]]:
    now = counts(sim)
    return {n: {"requests": now[n][0] - before[n][0], "auth": now[n][1] - before[n][1]} for n in NODES}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def must_be_ok(result: Any, what: str) -> Any:
    if not result.ok:
        raise SystemExit(f"bench: {what} failed: {result!r}")
    return result


def op(sim: Any, name: str) -> tuple[float, dict[str, dict[str, int]]]:
    """Run one clpbackup operation with a fresh ClusterBackup (its own pools): wall time, counts."""
    from clpbackup import ClusterBackup

    before = counts(sim)

    def go() -> None:
        with ClusterBackup(sim.plan) as cb:
            if name == "deploy":
                must_be_ok(cb.deploy(), "deploy")
            elif name == "deploy-one":
                must_be_ok(cb.deploy(node=NODES[0]), "deploy on one node")
            elif name == "status":
                cb.status()  # an undeployed or drifting node is a result, not a failure
            elif name == "failover_backup":
                must_be_ok(cb.failover_backup(), "failover_backup")
            elif name == "drill":
                must_be_ok(cb.drill(), "drill")
            else:
                raise ValueError(name)

    seconds, _ = timed(go)
    return seconds, delta(sim, before)


def worst(by_node: dict[str, dict[str, int]], key: str = "requests") -> int:
    return max(v[key] for v in by_node.values())


# -- the per-command baseline -------------------------------------------------------------------------


class Baseline:
    """The deploy of the plan the way an ops script does it with pypsrp's Client.

    One ``Client`` (one HTTP connection, one NTLM handshake) per node; one ``execute_cmd``,
    ``execute_ps`` or ``copy`` per command and file — the same reads and writes clpbackup's deploy
    makes, item by item:

    reads   ``ver`` (OS-1), ``chcp`` (code page), WSB installed (OS-3, ``execute_ps``), the SHA-256 of
            each file (``execute_ps``: PowerShell 3.0 on 2012 has no Get-FileHash), the
            ``schtasks /Query /FO CSV /V`` listing;
    writes  ``mkdir`` of the scripts folder (copy.ps1 does not create it), one ``copy`` per file
            whose hash differs, one ``schtasks /Create`` per task not in the listing.

    ``blind=True`` is the cheapest script of all: no reads, every file copied and every task created
    each time (not idempotent; a lower bound for any per-command script).
    """

    def __init__(self, sim: Any, *, blind: bool = False) -> None:
        self.sim = sim
        self.blind = blind
        self.plan = sim.plan
        self.artifacts = self.plan.render()

    def client(self, node: str) -> Any:
        from pypsrp.client import Client

        user, password = self.sim.credentials
        return Client(
            "127.0.0.1",
            port=self.sim.node(node).server.port,
            ssl=False,
            username=user,
            password=password,
            auth="ntlm",
        )

    def deploy_node(self, node: str, workdir: Path) -> dict[str, int]:
        from clpbackup.testing.model.pypsrp_scripts import hash_file_script, wsb_installed_script

        art = self.artifacts[node]
        calls = {"execute_cmd": 0, "execute_ps": 0, "copy": 0}

        def cmd(line: str) -> str:
            calls["execute_cmd"] += 1
            out, err, rc = c.execute_cmd(line)
            if rc != 0:
                raise SystemExit(f"bench baseline: {line!r} failed on {node} ({rc}): {err or out}")
            return str(out)

        def ps(script: str) -> str:
            calls["execute_ps"] += 1
            out, streams, had_errors = c.execute_ps(script)
            if had_errors or streams.error:
                raise SystemExit(f"bench baseline: execute_ps failed on {node}: {streams.error}")
            return str(out).strip()

        with self.client(node) as c:
            files = [
                f for f in art.files if not (f.role == "start-fragment" and self.plan.cluster.start_script)
            ]
            if self.blind:
                to_write, listing = files, ""
            else:
                if "Version 6.2" not in cmd("ver"):
                    raise SystemExit(f"bench baseline: {node} is not Windows Server 2012")
                cmd("chcp")
                if ps(wsb_installed_script()) != "True":
                    raise SystemExit(f"bench baseline: Windows Server Backup missing on {node}")
                to_write = [f for f in files if ps(hash_file_script(f.path)) != f.sha256]
                listing = cmd("schtasks /Query /FO CSV /V")
            if to_write:
                folder = self.plan.scripts_dir
                cmd(f'if not exist "{folder}\\" mkdir "{folder}"')
            for f in to_write:
                local = workdir / f"{node}-{Path(f.path.replace(chr(92), '/')).name}"
                local.write_bytes(f.content)
                calls["copy"] += 1
                c.copy(str(local), f.path)
            for s in art.schedules:
                listed = f'"{s.name}"' in listing or f'"\\{s.name}"' in listing
                if self.blind or not listed:
                    cmd(s.command_line)
        return calls

    def deploy(self) -> tuple[float, dict[str, dict[str, int]], dict[str, dict[str, int]]]:
        """Both nodes in parallel (as clpbackup does; the fair comparison of wall time)."""
        before = counts(self.sim)
        with tempfile.TemporaryDirectory(prefix="clpbackup-bench-") as tmp:
            with ThreadPoolExecutor(max_workers=len(NODES)) as pool:
                start = time.perf_counter()
                futures = {n: pool.submit(self.deploy_node, n, Path(tmp)) for n in NODES}
                calls = {n: f.result() for n, f in futures.items()}
                seconds = time.perf_counter() - start
        if self.sim.not_simulated:
            raise SystemExit(f"bench baseline: not simulated: {self.sim.not_simulated}")
        return seconds, delta(self.sim, before), calls


def end_state(sim: Any) -> dict[str, Any]:
    """What a deploy leaves on the nodes: each task's schedule and command, each file's bytes."""
    state: dict[str, Any] = {}
    for n in NODES:
        node = sim.node(n)
        tasks = {name: (t.run, t.kind, t.start.time(), t.run_as) for name, t in node.tasks.items()}
        files = {f.path: node.files.read_bytes(f.path) for f in sim.plan.render()[n].files}
        state[n] = (tasks, files)
    return state


def check_same_end_state(clp: dict[str, Any], base: Any) -> None:
    """The baseline did the same deploy: the same tasks and files on every node."""
    if end_state(base) != clp:
        raise SystemExit("bench: the baseline's deploy left other tasks or files than clpbackup's")


# -- sections -----------------------------------------------------------------------------------------


def bench_requests() -> dict[str, Any]:
    """Request counts (latency 0: counts do not depend on latency; the latency section re-checks)."""
    out: dict[str, Any] = {}
    with cluster() as sim:
        for name, label in (
            ("deploy", "deploy"),
            ("deploy", "noop_deploy"),
            ("status", "status"),
            ("failover_backup", "failover_backup"),
        ):
            _, by_node = op(sim, name)
            out[label] = by_node
            if label == "deploy":
                deployed = end_state(sim)
        # DRILL-1 once the daily backups have run: the owner drills both jobs, the other node one
        sim.advance(hours=24)
        _, out["drill"] = op(sim, "drill")
    with cluster() as base:
        _, base_nodes, calls = Baseline(base).deploy()
        check_same_end_state(deployed, base)
        _, base_noop, noop_calls = Baseline(base).deploy()
    with cluster() as blind:
        _, blind_nodes, blind_calls = Baseline(blind, blind=True).deploy()
        check_same_end_state(deployed, blind)
    out["baseline_deploy"] = base_nodes
    out["baseline_calls"] = calls
    out["baseline_noop_deploy"] = base_noop
    out["baseline_noop_calls"] = noop_calls
    out["baseline_blind_deploy"] = blind_nodes
    out["baseline_blind_calls"] = blind_calls
    return out


def bench_latency(latencies: Sequence[int], baseline_latencies: Sequence[int]) -> list[dict[str, Any]]:
    rows = []
    for ms in latencies:
        row: dict[str, Any] = {"latency_ms": ms}
        with cluster(ms) as sim:
            for name, label in (
                ("deploy", "deploy"),
                ("deploy", "noop_deploy"),
                ("status", "status"),
                ("failover_backup", "failover_backup"),
            ):
                seconds, by_node = op(sim, name)
                row[f"{label}_s"] = round(seconds, 3)
                row[f"{label}_requests_per_node"] = worst(by_node)
        if ms in baseline_latencies:
            with cluster(ms) as base:
                seconds, by_node, _ = Baseline(base).deploy()
            row["baseline_deploy_s"] = round(seconds, 3)
            row["baseline_requests_per_node"] = worst(by_node)
            row["baseline_speedup"] = round(seconds / row["deploy_s"], 1)
        log(f"latency {ms} ms: {row}")
        rows.append(row)
    return rows


def bench_parallel(repeats: int, latency_ms: int = 50) -> dict[str, Any]:
    """Deploy on both nodes ÷ on one node, each on fresh nodes (a first deploy: 7 requests a node).

    Headline: nodes served by a separate process, as real nodes are. Also measured with the nodes in
    this process (``SimulatedCluster`` in-process), where their CPU competes with the client's for the
    interpreter lock — a cost of the simulation that real nodes do not impose.
    """
    from clpbackup import ClusterBackup

    def deploy(plan: Any, node: str | None) -> float:
        with ClusterBackup(plan) as cb:
            seconds, result = timed(lambda: cb.deploy(node=node))
        must_be_ok(result, "deploy")
        return seconds

    one: list[float] = []
    both: list[float] = []
    with Host(2 * repeats + 2, latency_ms) as host:
        plans = host.plans()
        deploy(plans.pop(), None)  # warm-up: first-use costs (imports, compiled regexes) are not parallelism
        deploy(plans.pop(), NODES[0])
        for i in range(repeats):
            one.append(deploy(plans[2 * i], NODES[0]))
            both.append(deploy(plans[2 * i + 1], None))
    in_one: list[float] = []
    in_both: list[float] = []
    for _ in range(max(3, repeats // 2)):
        with cluster(latency_ms) as sim:
            in_one.append(op(sim, "deploy-one")[0])
        with cluster(latency_ms) as sim:
            in_both.append(op(sim, "deploy")[0])
    result: dict[str, Any] = {
        "latency_ms": latency_ms,
        "repeats": repeats,
        "one_node_s": round(statistics.median(one), 3),
        "both_nodes_s": round(statistics.median(both), 3),
        "one_node_all_s": [round(x, 3) for x in one],
        "both_nodes_all_s": [round(x, 3) for x in both],
        "inprocess_one_node_s": round(statistics.median(in_one), 3),
        "inprocess_both_nodes_s": round(statistics.median(in_both), 3),
    }
    result["parallel_ratio"] = round(result["both_nodes_s"] / result["one_node_s"], 2)
    result["inprocess_parallel_ratio"] = round(
        result["inprocess_both_nodes_s"] / result["inprocess_one_node_s"], 2
    )
    log(f"parallel: {result}")
    return result


# -- fleet: a host process serves the clusters, a client process runs clpbackup over them --------------


def fleet_host(clusters: int, latency_ms: float) -> int:
    """Serve ``clusters`` simulated clusters; print their endpoints (one JSON line); answer each
    ``cpu`` line on stdin with this process's CPU time so far; at the end of stdin print the request
    counts and resource use (one JSON line)."""
    from clpbackup.testing import SimulatedCluster

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 100 listeners + their connections
    plan = load_plan()
    sims = [SimulatedCluster.from_plan(plan, latency=latency_ms / 1000) for _ in range(clusters)]
    threads = 0
    try:
        for s in sims:
            s.start()
        print(json.dumps([{n.name: n.server.port for n in s.nodes} for s in sims]), flush=True)
        for line in sys.stdin:
            if line.strip() == "cpu":
                threads = max(threads, threading.active_count())
                print(json.dumps({"cpu_s": _cpu_s()}), flush=True)
        requests = [n.requests for s in sims for n in s.nodes]
        auth = [n.server.auth_requests for s in sims for n in s.nodes]
        not_simulated = [m for s in sims for m in s.not_simulated]
    finally:
        with ThreadPoolExecutor(max_workers=16) as pool:  # each stop waits for its serve loop
            list(pool.map(lambda s: s.stop(), sims))
    print(
        json.dumps(
            {
                "requests": requests,
                "auth": auth,
                "not_simulated": not_simulated,
                "threads": threads,
                "peak_rss_mb": round(_rss_mb("VmHWM"), 1),
            }
        ),
        flush=True,
    )
    return 0


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb(field: str = "VmRSS") -> float:
    """This process's resident set (``VmRSS``) or its peak (``VmHWM``), in MB.

    Not ``getrusage().ru_maxrss``: Linux carries the parent's peak over fork and exec into it, so
    a small child started by a bigger parent would report the parent's figure.
    """
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def fleet_client(endpoints_file: str, concurrency: int, operation: str, part: int = 0, parts: int = 1) -> int:
    """Run ``operation`` (deploy or status) over the clusters of the endpoints file (every
    ``parts``-th from ``part``), ``concurrency`` clusters at a time, each with its own ClusterBackup
    (both nodes in parallel). Prints ``ready`` once loaded, starts at a ``go`` line on stdin, then
    prints one JSON line: wall time, CPU time, peak RSS of this process."""
    # what a run imports is loaded before the memory baseline is taken
    import clpbackup.transport.psrp  # noqa: F401
    from clpbackup import ClusterBackup

    endpoints = json.loads(Path(endpoints_file).read_text(encoding="utf-8"))[part::parts]
    base = load_plan()
    plans = [
        base.with_endpoints({n: {"host": "127.0.0.1", "port": p} for n, p in e.items()}) for e in endpoints
    ]
    rss_before = _rss_mb()
    print("ready", flush=True)
    sys.stdin.readline()

    def one(plan: Any) -> str | None:
        with ClusterBackup(plan) as cb:
            result = cb.deploy() if operation == "deploy" else cb.status()
        failed = [f"{n}: {v}" for n, v in result.items() if isinstance(v, Exception)]
        return "; ".join(failed) or None

    cpu0 = time.process_time()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(plans)))) as pool:
        errors = [e for e in pool.map(one, plans) if e]
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    peak = _rss_mb("VmHWM")
    out = {
        "s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_mb": round(peak, 1),
        "failed_clusters": len(errors),
        "errors": errors[:3],
    }
    print(json.dumps(out), flush=True)
    return 0


class Host:
    """Simulated clusters served by a separate process (``_fleet-host``), as real nodes are: their
    work does not take this process's CPU or share its interpreter lock."""

    def __init__(self, clusters: int, latency_ms: float) -> None:
        self.clusters = clusters
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "_fleet-host", str(clusters), str(latency_ms)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.endpoints_line = self.proc.stdout.readline()
        if not self.endpoints_line:
            self.proc.kill()
            raise SystemExit("bench: the simulated-cluster host did not start")
        self.endpoints: list[dict[str, int]] = json.loads(self.endpoints_line)
        self.stats: dict[str, Any] = {}

    def plans(self) -> list[Any]:
        """The example plan pointed at each cluster."""
        base = load_plan()
        return [
            base.with_endpoints({n: {"host": "127.0.0.1", "port": p} for n, p in e.items()})
            for e in self.endpoints
        ]

    def cpu(self) -> float:
        """The host process's CPU time so far (s)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("cpu\n")
        self.proc.stdin.flush()
        return float(json.loads(self.proc.stdout.readline())["cpu_s"])

    def close(self) -> dict[str, Any]:
        """Stop the host; its request counts and peak memory."""
        if self.proc.poll() is None and not self.stats:
            try:
                assert self.proc.stdin is not None and self.proc.stdout is not None
                self.proc.stdin.close()
                self.stats = json.loads(self.proc.stdout.readline())
                self.proc.wait(timeout=60)
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()
        if self.stats.get("not_simulated"):
            raise SystemExit(f"bench: not simulated: {self.stats['not_simulated'][:3]}")
        return self.stats

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _clients(endpoints_file: str, concurrency: int, operation: str, processes: int) -> dict[str, Any]:
    """Run one operation over the fleet from ``processes`` client processes (the clusters dealt out
    between them, ``concurrency`` in flight in all), started together once each has loaded."""
    me = [sys.executable, str(Path(__file__).resolve()), "_fleet-client", endpoints_file]
    share = max(1, -(-concurrency // processes))
    procs = [
        subprocess.Popen(
            [*me, str(share), operation, str(i), str(processes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise SystemExit("bench fleet: a client process did not start")
        start = time.perf_counter()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p in procs:
            assert p.stdout is not None
            results.append(json.loads(p.stdout.readline()))
        wall = time.perf_counter() - start
    finally:
        for p in procs:
            with contextlib.suppress(Exception):
                p.wait(timeout=60)
            if p.poll() is None:
                p.kill()
    return {
        # one process: its own timing (no pipe in between); several: from "go" to the last answer
        "s": results[0]["s"] if processes == 1 else round(wall, 3),
        "cpu_s": round(sum(r["cpu_s"] for r in results), 3),
        "peak_rss_mb": round(sum(r["peak_rss_mb"] for r in results), 1),
        "rss_before_mb": round(sum(r["rss_before_mb"] for r in results), 1),
        "failed_clusters": sum(r["failed_clusters"] for r in results),
        "errors": [e for r in results for e in r["errors"]][:3],
    }


def run_fleet(
    clusters: int,
    *,
    latency_ms: int,
    concurrency: int,
    operations: Sequence[str],
    processes: int = 1,
) -> dict[str, Any]:
    """One fleet size: a host process serves the clusters; ``processes`` client processes per
    operation (1: one process, as a script or the CLI runs)."""
    row: dict[str, Any] = {
        "clusters": clusters,
        "nodes": 2 * clusters,
        "latency_ms": latency_ms,
        "concurrency": concurrency,
        "processes": processes,
    }
    with Host(clusters, latency_ms) as host:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(host.endpoints_line)
        try:
            for name in operations:
                before = host.cpu()
                result = _clients(f.name, concurrency, name, processes)
                row[f"{name}_host_cpu_s"] = round(host.cpu() - before, 3)
                if result["failed_clusters"]:
                    raise SystemExit(f"bench fleet: {name} failed: {result['errors']}")
                for key in ("s", "cpu_s", "peak_rss_mb", "rss_before_mb"):
                    row[f"{name}_{key}"] = result[key]
        finally:
            os.unlink(f.name)
        stats = host.close()
    row["host_peak_rss_mb"] = stats["peak_rss_mb"]
    row["host_threads"] = stats["threads"]
    row["requests_per_node"] = round(sum(stats["requests"]) / row["nodes"], 2)
    row["auth_per_node"] = round(sum(stats["auth"]) / row["nodes"], 2)
    log(f"fleet {clusters} clusters, {processes} client process(es): {row}")
    return row


def bench_fleet(
    sizes: Sequence[int],
    *,
    latency_ms: int,
    concurrency: int,
    floor: dict[str, Any] | None = None,
    processes: int = 1,
) -> dict[str, Any]:
    """Fleets of ``sizes`` clusters, and one cluster as the reference; the ratios, the growth, and
    the floors below which the wall time of the largest fleet cannot go on this machine."""
    ops = ("deploy", "status")
    rows = [run_fleet(n, latency_ms=latency_ms, concurrency=concurrency, operations=ops) for n in (1, *sizes)]
    one = rows[0]
    cpus = os.cpu_count() or 1
    for row in rows:
        for name in ops:
            row[f"{name}_vs_one_cluster"] = round(row[f"{name}_s"] / one[f"{name}_s"], 2)
            row[f"{name}_cpu_ms_per_cluster"] = round(1000 * row[f"{name}_cpu_s"] / row["clusters"], 1)
            row[f"{name}_host_cpu_ms_per_cluster"] = round(
                1000 * row[f"{name}_host_cpu_s"] / row["clusters"], 1
            )
        # Lower bounds for status: latency alone (rounds of `concurrency` clusters, 5 requests each);
        # the client's CPU in one process (the GIL runs one thread at a time); client + simulated
        # nodes' CPU spread over every core of this machine.
        rounds = -(-row["clusters"] // concurrency)
        row["status_latency_bound_s"] = round(rounds * 5 * latency_ms / 1000, 3)
        row["status_client_cpu_bound_s"] = row["status_cpu_s"]
        row["status_machine_cpu_bound_s"] = round((row["status_cpu_s"] + row["status_host_cpu_s"]) / cpus, 3)
        if floor:
            row["status_pypsrp_cpu_bound_s"] = round(
                row["nodes"] * floor["pypsrp_status_node_cpu_ms"] / 1000, 3
            )
    largest = rows[-1]
    growth: dict[str, float] = {}
    if len(rows) > 2:
        a, b = rows[1], rows[-1]
        span = b["clusters"] - a["clusters"]
        for name in ops:
            growth[f"{name}_s_per_extra_cluster"] = round((b[f"{name}_s"] - a[f"{name}_s"]) / span, 4)
            growth[f"{name}_rss_mb_per_extra_cluster"] = round(
                (b[f"{name}_peak_rss_mb"] - a[f"{name}_peak_rss_mb"]) / span, 3
            )
    out: dict[str, Any] = {
        "rows": rows,
        "growth": growth,
        "fleet_status_ratio": largest["status_vs_one_cluster"],
        "fleet_deploy_ratio": largest["deploy_vs_one_cluster"],
        "fleet_nodes": largest["nodes"],
    }
    if processes > 1:
        multi = run_fleet(
            largest["clusters"],
            latency_ms=latency_ms,
            concurrency=concurrency,
            operations=ops,
            processes=processes,
        )
        for name in ops:
            multi[f"{name}_vs_one_cluster"] = round(multi[f"{name}_s"] / one[f"{name}_s"], 2)
        out["multi_process"] = multi
        out["fleet_status_ratio_multi_process"] = multi["status_vs_one_cluster"]
    if floor:
        out["status_pypsrp_floor_ratio"] = round(largest["status_pypsrp_cpu_bound_s"] / one["status_s"], 2)
    out["status_client_cpu_floor_ratio"] = round(largest["status_cpu_s"] / one["status_s"], 2)
    out["status_machine_cpu_floor_ratio"] = round(largest["status_machine_cpu_bound_s"] / one["status_s"], 2)
    return out


def pypsrp_floor(repeats: int) -> dict[str, Any]:
    """Client CPU for one node's status (latency 0, nodes served by a host process): pypsrp alone
    (open the pool, the same inspect pipeline with the same output, close) against clpbackup's
    status of that node. The difference is all clpbackup could ever save on the client."""
    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.wsman import WSMan

    from clpbackup import ClusterBackup, nodestate
    from clpbackup.transport import remote_ops
    from clpbackup.transport._wire import inspect_parameters

    with Host(1, 0) as host:
        plan = host.plans()[0]
        with ClusterBackup(plan) as cb:
            must_be_ok(cb.deploy(), "deploy")
        node = plan.node(NODES[0])
        art = plan.render()[node.name]
        request, _ = nodestate.build_inspect(plan, node, art, logs=True, versions=True)
        conn = plan.connection_for(node)
        params = inspect_parameters(request, codepage=conn.codepage, command_timeout=conn.deadline)
        text = remote_ops.load("inspect").text

        def raw() -> None:
            wsman = WSMan(
                "127.0.0.1",
                port=host.endpoints[0][node.name],
                ssl=False,
                username=conn.username or "Administrator",
                password=os.environ["CLPBACKUP_PASSWORD"],
                auth="ntlm",
            )
            with RunspacePool(wsman) as pool:
                ps = PowerShell(pool)
                ps.add_script(text)
                for k, v in params.items():
                    ps.add_parameter(k, v)
                ps.invoke()
            wsman.close()

        def clp() -> None:
            with ClusterBackup(plan) as cb:
                cb.status(node=node.name)

        # interleaved, so that a change in the machine's load hits both alike
        samples: dict[Callable[[], None], list[float]] = {raw: [], clp: []}
        raw()
        clp()
        for _ in range(repeats):
            for fn, out in samples.items():
                t0 = time.process_time()
                fn()
                out.append(time.process_time() - t0)
        raw_s, clp_s = statistics.median(samples[raw]), statistics.median(samples[clp])
    return {
        "pypsrp_status_node_cpu_ms": round(raw_s * 1000, 1),
        "clpbackup_status_node_cpu_ms": round(clp_s * 1000, 1),
    }


# -- start-up -----------------------------------------------------------------------------------------


def startup_env() -> dict[str, str]:
    """The environment of the start-up runs: bytecode cached, as in an installed package.

    An installed wheel has its ``.pyc`` files; a checkout run with PYTHONDONTWRITEBYTECODE (as
    this project's shells are) compiles clpbackup's modules from source at every start while
    pypsrp's come compiled from site-packages. The runs here write and read their bytecode under
    one cache folder outside the work tree (PYTHONPYCACHEPREFIX), for every package alike.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "clpbackup-bench-pycache")
    return env


def _median_run(argv: Sequence[str], repeats: int, *, check: bool = True) -> float:
    env = startup_env()
    samples = []
    subprocess.run(argv, check=check, capture_output=True, env=env)  # warm the bytecode and page cache
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=check, capture_output=True, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _median_uncached(argv: Sequence[str], repeats: int) -> float:
    """As :func:`_median_run`, with no bytecode written or read for clpbackup (a checkout run with
    PYTHONDONTWRITEBYTECODE): what every start costs here, for comparison."""
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONPYCACHEPREFIX", None)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


HEAVY = ("pydantic", "pypsrp", "yaml", "requests", "spnego", "psrpcore", "tenacity", "cryptography")


def _loaded_heavy(code: str) -> list[str]:
    heavy = json.dumps(list(HEAVY))
    top = "{m.split('.')[0] for m in sys.modules}"
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted({top} & set({heavy}))))"
    done = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, env=startup_env()
    )
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def bench_startup(repeats: int, *, quick: bool = False) -> dict[str, Any]:
    py = sys.executable
    out: dict[str, Any] = {"repeats": repeats}
    out["python_s"] = _median_run([py, "-c", "pass"], repeats)
    out["import_clpbackup_s"] = _median_run([py, "-c", "import clpbackup"], repeats)
    out["import_pypsrp_client_s"] = _median_run([py, "-c", "import pypsrp.client"], repeats)
    out["import_ratio"] = round(out["import_clpbackup_s"] / out["import_pypsrp_client_s"], 2)
    out["import_clpbackup_operations_s"] = _median_run([py, "-c", "import clpbackup.operations"], repeats)
    if not quick:
        out["import_clpbackup_operations_uncached_s"] = _median_uncached(
            [py, "-c", "import clpbackup.operations"], repeats
        )
    exe = shutil.which("clpbackup", path=str(Path(py).parent))
    help_argv = [exe, "--help"] if exe else [py, "-m", "clpbackup", "--help"]
    out["clpbackup_help_s"] = _median_run(help_argv, repeats)
    out["import_clpbackup_loads"] = _loaded_heavy("import clpbackup")
    out["clpbackup_help_loads"] = _loaded_heavy(
        "from clpbackup.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    out.update(_ansible_startup(repeats, status_task=not quick))
    for k, v in list(out.items()):
        if k.endswith("_s") and isinstance(v, float):
            out[k] = round(v, 3)
    log(f"startup: {out}")
    return out


def _ansible_startup(repeats: int, *, status_task: bool = True) -> dict[str, Any]:
    """The module as Ansible runs it (``python clpbackup_cluster.py ARGS.json``; AnsiballZ adds its
    unzip): its start-up to a first answer (an argument refused before any node is contacted), and a
    whole ``state: status`` task against a simulated cluster (latency 0)."""
    py = sys.executable
    try:
        from clpbackup.ansible import module_path
        from clpbackup.testing.simulate_cli import plan_yaml
    except ImportError:
        return {"ansible": "not installed"}
    import importlib.util

    if importlib.util.find_spec("ansible") is None:
        return {"ansible": "not installed"}
    out: dict[str, Any] = {}
    out["import_ansible_basic_s"] = _median_run([py, "-c", "import ansible.module_utils.basic"], repeats)
    module = module_path()
    with tempfile.TemporaryDirectory(prefix="clpbackup-bench-") as tmp, cluster(0) as sim:
        plan_path = Path(tmp) / "plan.yaml"
        plan_path.write_text(plan_yaml(sim.plan), encoding="utf-8")

        def args(name: str, **params: Any) -> Path:
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"plan": str(plan_path), **params}}))
            return path

        refused = args("refused", state="status", at="now")  # 'at' is only for the one-shot states
        status = args("status", state="status")

        def run(path: Path) -> dict[str, Any]:
            done = subprocess.run([py, module, str(path)], capture_output=True, text=True, env=startup_env())
            result: dict[str, Any] = json.loads(done.stdout)
            return result

        first = run(refused)
        if not first.get("failed") or "only for" not in first.get("msg", ""):
            raise SystemExit(f"bench: the Ansible module answered unexpectedly: {first}")
        # the refused run exits 1 by design
        out["ansible_module_startup_s"] = _median_run([py, module, str(refused)], repeats, check=False)
        if status_task:
            # what a status task has to import, measured together (they share much)
            out["import_status_task_modules_s"] = _median_run(
                [
                    py,
                    "-c",
                    "import ansible.module_utils.basic, clpbackup.operations, clpbackup.transport.psrp",
                ],
                repeats,
            )
            answer = run(status)
            if set(answer.get("nodes", {})) != set(NODES):
                raise SystemExit(f"bench: the Ansible status task failed: {answer.get('msg')}")
            out["ansible_module_status_task_s"] = _median_run([py, module, str(status)], repeats, check=False)
    return out


# -- report -------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import pypsrp  # noqa: F401

    from clpbackup import __version__

    versions = {}
    for dist in ("pypsrp", "psrpcore", "pyspnego", "pydantic"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[dist] = version(dist)
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "clpbackup": __version__,
        **versions,
    }


def evaluate(figures: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, (op_, target, meaning) in TARGETS.items():
        value = figures.get(key)
        if value is None:
            continue
        met = value <= target if op_ == "<=" else value >= target
        out[key] = {"value": value, "target": f"{op_} {target}", "met": met, "meaning": meaning}
    return out


def markdown(fig: dict[str, Any]) -> str:
    """The figures as the Markdown tables of bench/RESULTS.md (the sections that were run)."""
    m = fig["machine"]
    lines = [
        f"Measured {fig['date']} on {m['cpu']} ({m['cpus']} CPUs, shared; load average "
        f"{m['load_avg_1m_at_start']} at the start, {m.get('load_avg_1m_at_end', '?')} at the end), "
        f"{m['os']}, Python {m['python']}, "
        f"pypsrp {m.get('pypsrp')}, "
        f"psrpcore {m.get('psrpcore')}, pyspnego {m.get('pyspnego')}.",
        "",
        f"Command: `{fig['command']}` ({fig['elapsed_s']} s)",
        "",
        "| figure | value | target | met |",
        "|---|---|---|---|",
    ]
    headline = [
        "deploy_requests_per_node",
        "noop_deploy_requests_per_node",
        "status_requests_per_node",
        "failover_backup_requests_per_node",
        "drill_requests_per_node",
        "auth_requests_per_node",
        "baseline_requests_per_node",
        "baseline_ratio",
        "baseline_noop_requests_per_node",
        "baseline_blind_requests_per_node",
        "baseline_blind_ratio",
        "parallel_ratio",
        "fleet_status_ratio",
        "fleet_deploy_ratio",
        "import_ratio",
    ]
    for key in headline:
        if key not in fig:
            continue
        t = fig["targets"].get(key)
        met = ("yes" if t["met"] else "**no**") if t else ""
        lines.append(f"| `{key}` | {fig[key]} | {t['target'] if t else ''} | {met} |")
    if "latency" in fig:
        lines += [
            "",
            "Wall time per operation (s), both nodes, by injected latency per WS-Man request:",
            "",
            "| latency | deploy | no-op deploy | status | failover_backup | baseline deploy "
            "| baseline ÷ clpbackup |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in fig["latency"]:
            lines.append(
                f"| {r['latency_ms']} ms | {r['deploy_s']} | {r['noop_deploy_s']} | {r['status_s']} | "
                f"{r['failover_backup_s']} | {r.get('baseline_deploy_s', '–')} | "
                f"{r.get('baseline_speedup', '–')} |"
            )
    if "parallel" in fig:
        p = fig["parallel"]
        lines += [
            "",
            f"Deploy at {p['latency_ms']} ms (median of {p['repeats']}), nodes served by another process: "
            f"one node {p['one_node_s']} s, both nodes {p['both_nodes_s']} s, ratio {p['parallel_ratio']}. "
            f"With the simulated nodes in the measuring process: {p['inprocess_one_node_s']} s and "
            f"{p['inprocess_both_nodes_s']} s, ratio {p['inprocess_parallel_ratio']}.",
        ]
    if "fleet" in fig:
        rows = fig["fleet"]["rows"]
        lines += [
            "",
            f"Fleet at {rows[0]['latency_ms']} ms per request, at most {rows[0]['concurrency']} clusters in "
            "flight. *client*: the process running clpbackup (one per operation); *host*: the process "
            "serving the simulated nodes.",
            "",
            "| clusters | nodes | status s | ÷ one | deploy s | ÷ one | client CPU status / deploy s "
            "| host CPU status / deploy s | client peak RSS status / deploy MB | requests/node |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['clusters']} | {r['nodes']} | {r['status_s']} | {r['status_vs_one_cluster']} "
                f"| {r['deploy_s']} | {r['deploy_vs_one_cluster']} "
                f"| {r['status_cpu_s']} / {r['deploy_cpu_s']} "
                f"| {r['status_host_cpu_s']} / {r['deploy_host_cpu_s']} "
                f"| {r['status_peak_rss_mb']} / {r['deploy_peak_rss_mb']} | {r['requests_per_node']} |"
            )
        lines += [
            "",
            "Lower bounds of the status wall time (s): latency alone; the client's CPU (one process: "
            "one thread runs at a time); pypsrp's own CPU for every node (see below); client + host CPU "
            "over every core.",
            "",
            "| clusters | measured | latency | client CPU | pypsrp CPU | client + host CPU ÷ cores |",
            "|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['clusters']} | {r['status_s']} | {r['status_latency_bound_s']} "
                f"| {r['status_client_cpu_bound_s']} | {r.get('status_pypsrp_cpu_bound_s', '–')} "
                f"| {r['status_machine_cpu_bound_s']} |"
            )
        multi = fig["fleet"].get("multi_process")
        if multi:
            lines += [
                "",
                f"The same {multi['clusters']} clusters from {multi['processes']} client processes "
                f"({multi['concurrency']} clusters in flight in all): status {multi['status_s']} s "
                f"(÷ one cluster {multi['status_vs_one_cluster']}), deploy {multi['deploy_s']} s "
                f"(÷ one cluster {multi['deploy_vs_one_cluster']}); client CPU {multi['status_cpu_s']} / "
                f"{multi['deploy_cpu_s']} s, host CPU {multi['status_host_cpu_s']} / "
                f"{multi['deploy_host_cpu_s']} s.",
            ]
        g = fig["fleet"]["growth"]
        if g:
            lines += [
                "",
                f"Growth from {rows[1]['clusters']} to {rows[-1]['clusters']} clusters, per extra cluster: "
                f"status +{g['status_s_per_extra_cluster']} s, deploy +{g['deploy_s_per_extra_cluster']} s; "
                f"client peak RSS +{g['status_rss_mb_per_extra_cluster']} MB (status), "
                f"+{g['deploy_rss_mb_per_extra_cluster']} MB (deploy).",
            ]
    f = fig.get("floor")
    if f:
        lines += [
            "",
            "Client CPU for one node's status (latency 0, median; the nodes in another process): "
            "pypsrp alone (open the pool, the same inspect pipeline with the same output, close) "
            f"{f['pypsrp_status_node_cpu_ms']} ms; clpbackup {f['clpbackup_status_node_cpu_ms']} ms.",
        ]
    if "startup" in fig:
        s = fig["startup"]
        lines += [
            "",
            "Start-up: median wall time of a new process (s), bytecode cached as in an installed package:",
            "",
            "| python -c pass | import clpbackup | import pypsrp.client | ratio "
            "| import clpbackup.operations | clpbackup --help | import ansible.module_utils.basic "
            "| Ansible module: first answer "
            "| Ansible module: status task |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| {s['python_s']} | {s['import_clpbackup_s']} | {s['import_pypsrp_client_s']} "
            f"| {s['import_ratio']} | {s['import_clpbackup_operations_s']} | {s['clpbackup_help_s']} "
            f"| {s.get('import_ansible_basic_s', '–')} | {s.get('ansible_module_startup_s', '–')} "
            f"| {s.get('ansible_module_status_task_s', '–')} |",
            "",
            "What a status task imports, together (ansible.module_utils.basic, clpbackup.operations, "
            f"clpbackup.transport.psrp): {s.get('import_status_task_modules_s', '–')} s.",
            "",
            f"`import clpbackup` loads {', '.join(s['import_clpbackup_loads']) or 'none'} and "
            f"`clpbackup --help` {', '.join(s['clpbackup_help_loads']) or 'none'} of: {', '.join(HEAVY)}.",
        ]
        if "import_clpbackup_operations_uncached_s" in s:
            lines.append(
                "Without bytecode (a checkout run with PYTHONDONTWRITEBYTECODE): "
                f"import clpbackup.operations {s['import_clpbackup_operations_uncached_s']} s."
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "_fleet-host":
        return fleet_host(int(args[1]), float(args[2]))
    if args and args[0] == "_fleet-client":
        return fleet_client(args[1], int(args[2]), args[3], int(args[4]), int(args[5]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (well under a minute)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--markdown", action="store_true", help="print the figures as Markdown tables")
    parser.add_argument(
        "--only",
        choices=["requests", "latency", "parallel", "fleet", "startup"],
        action="append",
        help="run only these sections (repeatable); the headline figures of the others are absent",
    )
    parser.add_argument("--fleet-concurrency", type=int, default=FLEET_CONCURRENCY)
    parser.add_argument(
        "--fleet-processes",
        type=int,
        default=1,
        help="also run the largest fleet from this many client processes (on a machine with the cores)",
    )
    parser.add_argument(
        "--from-json", metavar="FILE", help="measure nothing: print the Markdown of a saved --json run"
    )
    opts = parser.parse_args(args)
    if opts.from_json:
        print(markdown(json.loads(Path(opts.from_json).read_text(encoding="utf-8"))), end="")
        return 0
    sections = set(opts.only or ["requests", "latency", "parallel", "fleet", "startup"])
    quick = opts.quick
    started = time.perf_counter()
    fig: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/run.py " + " ".join(args),
        "quick": quick,
        "machine": machine(),
        "plan": str(PLAN_FILE.relative_to(ROOT)),
    }
    if "requests" in sections:
        req = bench_requests()
        fig["requests"] = req
        fig["deploy_requests_per_node"] = worst(req["deploy"])
        fig["noop_deploy_requests_per_node"] = worst(req["noop_deploy"])
        fig["status_requests_per_node"] = worst(req["status"])
        fig["failover_backup_requests_per_node"] = worst(req["failover_backup"])
        fig["drill_requests_per_node"] = worst(req["drill"])
        fig["auth_requests_per_node"] = worst(req["deploy"], "auth")
        fig["baseline_requests_per_node"] = worst(req["baseline_deploy"])
        fig["baseline_ratio"] = round(fig["baseline_requests_per_node"] / fig["deploy_requests_per_node"], 1)
        fig["baseline_noop_requests_per_node"] = worst(req["baseline_noop_deploy"])
        fig["baseline_blind_requests_per_node"] = worst(req["baseline_blind_deploy"])
        fig["baseline_blind_ratio"] = round(
            fig["baseline_blind_requests_per_node"] / fig["deploy_requests_per_node"], 1
        )
        log(
            f"requests: deploy {fig['deploy_requests_per_node']}, "
            f"no-op {fig['noop_deploy_requests_per_node']}, "
            f"baseline {fig['baseline_requests_per_node']} (x{fig['baseline_ratio']})"
        )
    if "latency" in sections:
        fig["latency"] = bench_latency(LATENCIES_MS, (0,) if quick else LATENCIES_MS)
    if "parallel" in sections:
        fig["parallel"] = bench_parallel(3 if quick else 7)
        fig["parallel_ratio"] = fig["parallel"]["parallel_ratio"]
    if "fleet" in sections:
        fig["floor"] = pypsrp_floor(7 if quick else 40)
        fig["fleet"] = bench_fleet(
            (FLEET_SIZES[0], FLEET_SIZES[-1]) if quick else FLEET_SIZES,
            latency_ms=FLEET_LATENCY_MS,
            concurrency=opts.fleet_concurrency,
            floor=fig["floor"],
            processes=opts.fleet_processes,
        )
        fig["fleet_status_ratio"] = fig["fleet"]["fleet_status_ratio"]
        fig["fleet_deploy_ratio"] = fig["fleet"]["fleet_deploy_ratio"]
    if "startup" in sections:
        fig["startup"] = bench_startup(3 if quick else 15, quick=quick)
        fig["import_ratio"] = fig["startup"]["import_ratio"]
    fig["targets"] = evaluate(fig)
    fig["elapsed_s"] = round(time.perf_counter() - started, 1)
    fig["machine"]["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    if opts.json:
        print(json.dumps(fig, indent=None, sort_keys=False))
    elif opts.markdown:
        print(markdown(fig), end="")
    else:
        for key, t in fig["targets"].items():
            print(f"{key:36} {t['value']!s:>8}  target {t['target']:>6}  {'met' if t['met'] else 'NOT MET'}")
        print(f"(elapsed {fig['elapsed_s']} s; --json or --markdown for every figure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
