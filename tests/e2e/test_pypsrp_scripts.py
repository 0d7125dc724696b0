"""pypsrp's own ``Client`` calls against a simulated node (the benchmarks' per-command baseline).

``Client.copy`` (pypsrp's copy.ps1 with positional arguments and pipeline input) and
``Client.execute_ps`` (``Invoke-Expression | Out-String``) are pipelines outside clpbackup's one-script
shape; the node answers them through ``invoke_pipeline`` (clpbackup/testing/model/pypsrp_scripts.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypsrp.client import Client
from pypsrp.exceptions import WinRMError

from clpbackup import Plan
from clpbackup.testing import SimulatedCluster
from clpbackup.testing.model.pypsrp_scripts import hash_file_script, wsb_installed_script

pytestmark = pytest.mark.e2e

PLAN = Path(__file__).resolve().parents[2] / "examples" / "plans" / "ws2012-wsb.yaml"


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatedCluster]:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "Pl4n-Passw0rd!")
    with SimulatedCluster.from_plan(Plan.from_file(PLAN)) as cluster:
        yield cluster


def client(sim: SimulatedCluster) -> Client:
    user, password = sim.credentials
    port = sim.node("node-a").server.port
    return Client("127.0.0.1", port=port, ssl=False, username=user, password=password, auth="ntlm")


def test_copy_writes_the_file_and_execute_ps_hashes_it(sim: SimulatedCluster, tmp_path: Path) -> None:
    data = b"@echo off\r\nrem \x82\xa0 bytes as they are\r\n" * 50
    src = tmp_path / "job.bat"
    src.write_bytes(data)
    node = sim.node("node-a")
    with client(sim) as c:
        assert c.execute_ps(hash_file_script(r"C:\clpbackup\job.bat"))[0] == ""  # missing: no output
        c.execute_cmd(r'if not exist "C:\clpbackup\" mkdir "C:\clpbackup"')
        before = node.requests
        assert c.copy(str(src), r"C:\clpbackup\job.bat") == r"C:\clpbackup\job.bat"
        copy_requests = node.requests - before
        out, _streams, had_errors = c.execute_ps(hash_file_script(r"C:\clpbackup\job.bat"))
        installed = c.execute_ps(wsb_installed_script())[0]
    assert node.files.read_bytes(r"C:\clpbackup\job.bat") == data
    assert out == hashlib.sha256(data).hexdigest() and not had_errors
    assert installed == "True"
    # pool open (Create + Receive), Command, Send (the input), Receive, Delete
    assert copy_requests == 6
    assert not sim.not_simulated


def test_copy_into_a_missing_folder_fails_as_the_script_does(sim: SimulatedCluster, tmp_path: Path) -> None:
    src = tmp_path / "x.txt"
    src.write_bytes(b"x")
    with client(sim) as c, pytest.raises(WinRMError, match="Could not find a part of the path"):
        c.copy(str(src), r"C:\no-such-folder\x.txt")
    assert not sim.node("node-a").files.exists(r"C:\no-such-folder\x.txt")


def test_an_unknown_execute_ps_script_is_not_simulated(sim: SimulatedCluster) -> None:
    with client(sim) as c:
        _out, streams, _had_errors = c.execute_ps("Get-Date")
    assert streams.error and "not simulated" in str(streams.error[0])
    assert sim.not_simulated == ["node-a: not simulated: execute_ps script 'Get-Date'"]
