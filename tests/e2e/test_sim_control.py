"""``clpbackup simulate`` in one process, ``clpbackup sim …`` from another: the real entry points."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from clpbackup.testing.control import CONTROL_FILE, parse_duration

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "examples" / "plans" / "ws2012-wsb.yaml"


def clp(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clpbackup", *argv], capture_output=True, text=True, cwd=cwd, timeout=180,
    )


@pytest.fixture
def simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "Sim-Contr0l!")
    proc = subprocess.Popen(
        [sys.executable, "-m", "clpbackup", "simulate", str(PLAN), "--write-plan", "sim.yaml"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / CONTROL_FILE).exists():
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() < deadline, "the simulator did not start"
        time.sleep(0.1)
    try:
        yield proc, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_second_shell_drives_the_simulator(simulator: tuple[subprocess.Popen[str], Path]) -> None:
    proc, here = simulator
    control = here / CONTROL_FILE
    assert stat.S_IMODE(control.stat().st_mode) == 0o600  # the token is a credential

    status = clp("sim", "status", cwd=here)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(
        "cluster prod-db: model time 2024-01-15 00:00 UTC, the group runs on node-a")

    assert clp("deploy", "sim.yaml", cwd=here).returncode == 0
    day = clp("sim", "advance", "24h", cwd=here)
    assert day.returncode == 0, day.stderr
    assert "ran node-a:clpbackup-prod-db-local-daily" in day.stdout
    assert "ran node-b:clpbackup-prod-db-shared-daily" in day.stdout
    assert day.stdout.rstrip().endswith("model time 2024-01-16 00:00 UTC")

    failover = clp("sim", "failover", "--dir", str(here), cwd=ROOT)
    assert failover.returncode == 0 and "the group now runs on node-b" in failover.stdout
    # what `clpbackup status` sees is what the control endpoint did
    seen = clp("status", "sim.yaml", "--format", "json", cwd=here)
    owners = {n: v["owner"] for n, v in json.loads(seen.stdout)["nodes"].items()}
    assert owners == {"node-a": False, "node-b": True}
    back = json.loads(clp("sim", "failback", "--format", "json", cwd=here).stdout)
    assert back["owner"] == "node-a"

    # SIGTERM stops it like Ctrl+C: exit 0, the control file removed
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert not control.exists()
    gone = clp("sim", "status", cwd=here)
    assert gone.returncode == 2 and "no running simulator here" in gone.stderr


def test_a_request_without_the_token_changes_nothing(simulator: tuple[subprocess.Popen[str], Path]) -> None:
    _proc, here = simulator
    url = json.loads((here / CONTROL_FILE).read_text(encoding="utf-8"))["url"]
    req = urllib.request.Request(f"{url}/failover", data=b"{}", method="POST",
                                 headers={"Authorization": "Bearer guessed"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=30)
    assert info.value.code == 403
    assert "the group runs on node-a" in clp("sim", "status", cwd=here).stdout


def test_bad_durations_are_refused(tmp_path: Path) -> None:
    assert parse_duration("24h") == 86400 and parse_duration("1h30m") == 5400
    assert parse_duration("2d") == 172800
    bad = clp("sim", "advance", "tomorrow", cwd=tmp_path)
    assert bad.returncode == 2 and "'tomorrow' is not a duration (for example 24h" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert os.listdir(tmp_path) == []


def test_a_node_goes_down_and_comes_back(simulator: tuple[subprocess.Popen[str], Path]) -> None:
    _proc, here = simulator
    down = clp("sim", "down", "node-b", cwd=here)
    assert down.returncode == 0, down.stderr
    assert down.stdout == "node-b: its WinRM endpoint no longer answers (like a host that is off)\n"
    seen = clp("status", "sim.yaml", "--format", "json", cwd=here)
    nodes = json.loads(seen.stdout)["nodes"]
    assert seen.returncode == 1
    assert nodes["node-b"]["error"]["type"] == "ConnectionFailed" and nodes["node-a"]["owner"] is True
    up = clp("sim", "up", "node-b", cwd=here)
    assert up.returncode == 0 and up.stdout == "node-b: its WinRM endpoint answers again\n"
    seen = clp("status", "sim.yaml", "--format", "json", cwd=here)
    assert "error" not in json.loads(seen.stdout)["nodes"]["node-b"]
    # no node, or one the simulator does not have: a clear refusal, nothing changed
    bare = clp("sim", "down", cwd=here)
    assert bare.returncode == 2 and "name the node (clpbackup sim down node-b)" in bare.stderr
    other = clp("sim", "down", "node-z", cwd=here)
    assert other.returncode == 2 and "down needs a node: one of node-a, node-b" in other.stderr
