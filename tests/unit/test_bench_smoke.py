"""bench/run.py runs and its deterministic figures meet the targets.

Request counts are deterministic (the same plan always sends the same WS-Man requests), so they are
asserted here; wall times are measured by the benchmark, never asserted in tests.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "bench" / "run.py"


def bench(*args: str, timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(RUN), "--json", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def load_run() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_request_counts_meet_the_targets() -> None:
    fig = bench("--only", "requests", timeout=120)
    # pool open 2 + inspect 2 + apply 2 + close 1; a no-op deploy skips the apply
    assert fig["deploy_requests_per_node"] == 7
    assert fig["noop_deploy_requests_per_node"] == 5
    assert fig["status_requests_per_node"] == 5
    assert fig["failover_backup_requests_per_node"] == 7  # the owner; the other node only reads
    assert {n: v["requests"] for n, v in fig["requests"]["failover_backup"].items()} == {
        "node-a": 7,
        "node-b": 5,
    }
    # DRILL-1: 7 + 4 per job drilled (the owner drills both jobs, the other node its local job)
    assert fig["drill_requests_per_node"] == 15
    assert {n: v["requests"] for n, v in fig["requests"]["drill"].items()} == {"node-a": 15, "node-b": 11}
    # the NTLM handshake is counted apart: one per pool, none per request
    assert fig["auth_requests_per_node"] == 3
    assert fig["baseline_ratio"] >= 10
    assert fig["targets"]["baseline_ratio"]["met"] is True
    # the baseline is measured call by call: WinRS execute_cmd and PSRP execute_ps are 5 requests
    # each (open, command, receive, signal/close), copy is 6 (its input goes in a Send)
    for label in ("baseline", "baseline_noop", "baseline_blind"):
        calls = fig["requests"][f"{label}_calls"]
        measured = fig["requests"][f"{label}_deploy"]
        for node, c in calls.items():
            expected = 5 * c["execute_cmd"] + 5 * c["execute_ps"] + 6 * c["copy"]
            assert measured[node]["requests"] == expected, (label, node, c)
    first = fig["requests"]["baseline_calls"]["node-a"]
    assert first["copy"] == 4 and first["execute_ps"] == 5  # every file copied and hashed
    assert fig["requests"]["baseline_noop_calls"]["node-a"]["copy"] == 0  # the baseline is idempotent too


def test_import_clpbackup_and_help_load_no_heavy_dependency() -> None:
    run = load_run()
    assert run._loaded_heavy("import clpbackup") == []
    help_code = "from clpbackup.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    assert run._loaded_heavy(help_code) == []
    # the probe itself sees what is imported
    assert "pypsrp" in run._loaded_heavy("import pypsrp.client")


@pytest.mark.slow
def test_quick_run_reports_every_figure() -> None:
    fig = bench("--quick", timeout=300)
    for key in (
        "deploy_requests_per_node",
        "noop_deploy_requests_per_node",
        "status_requests_per_node",
        "failover_backup_requests_per_node",
        "baseline_requests_per_node",
        "baseline_ratio",
        "parallel_ratio",
        "fleet_status_ratio",
        "fleet_deploy_ratio",
        "import_ratio",
    ):
        assert isinstance(fig[key], (int, float)) and fig[key] > 0, key
    assert set(fig["targets"]) == {
        "deploy_requests_per_node",
        "noop_deploy_requests_per_node",
        "baseline_ratio",
        "parallel_ratio",
        "fleet_status_ratio",
        "import_ratio",
    }
    assert [r["latency_ms"] for r in fig["latency"]] == [0, 20, 50]
    # request counts do not depend on latency
    assert {r["deploy_requests_per_node"] for r in fig["latency"]} == {7}
    rows = fig["fleet"]["rows"]
    assert rows[0]["clusters"] == 1 and rows[-1]["nodes"] == 100
    for row in rows:
        # every node of the fleet: one deploy (7) and one status (5), each with its own handshake
        # (a cluster that failed would have stopped the run)
        assert row["requests_per_node"] == 12 and row["auth_per_node"] == 6
        for op in ("status", "deploy"):
            assert row[f"{op}_peak_rss_mb"] >= row[f"{op}_rss_before_mb"] > 0
            assert row[f"{op}_s"] > 0 and row[f"{op}_cpu_s"] > 0 and row[f"{op}_host_cpu_s"] > 0
    assert fig["floor"]["pypsrp_status_node_cpu_ms"] > 0
    assert fig["parallel"]["inprocess_parallel_ratio"] > 0
    assert fig["startup"]["import_clpbackup_loads"] == []
    assert fig["startup"]["clpbackup_help_loads"] == []
