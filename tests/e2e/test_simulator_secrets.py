"""The simulator keeps no secret in a shared folder (issue #10).

``clpbackup simulate`` used to write the NT/LM hashes of the nodes' password to
``/tmp/clpbackup-sim-ntlm-*.txt`` for pyspnego's NTLM acceptor: SIGTERM left them behind, and
another process that cleaned ``/tmp`` broke the running simulator's logins. Each test runs the real
command in a subprocess with its own ``TMPDIR``, so what it leaves there is its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clpbackup import ClusterBackup, Plan
from clpbackup.results import StatusResult
from clpbackup.testing.pytest_plugin import SIM_PASSWORD, SIM_PASSWORD_ENV
from clpbackup.testing.simulate_cli import plan_yaml

pytestmark = pytest.mark.e2e


def _nt_hash(password: str) -> bytes:
    from spnego._ntlm_raw.crypto import ntowfv1

    return ntowfv1(password).hex().upper().encode()


def _files_holding(folder: Path, needle: bytes) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and needle in path.read_bytes().upper():
            found.append(path)
    return found


Started = tuple["subprocess.Popen[str]", Path, Path]


@pytest.fixture
def simulate(tmp_path: Path, sim_plan: Callable[..., Plan]) -> Iterator[Callable[[], Started]]:
    procs: list[subprocess.Popen[str]] = []

    def start() -> Started:
        tmpdir = tmp_path / f"tmp{len(procs)}"
        tmpdir.mkdir()
        source = tmp_path / "plan.yaml"
        source.write_text(plan_yaml(sim_plan()), encoding="utf-8")
        local = tmp_path / f"local{len(procs)}.yaml"
        env = {**os.environ, "TMPDIR": str(tmpdir), SIM_PASSWORD_ENV: SIM_PASSWORD}
        proc = subprocess.Popen(
            [sys.executable, "-m", "clpbackup", "simulate", str(source), "--write-plan", str(local)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("Serving"):
                return proc, tmpdir, local
        proc.kill()
        raise AssertionError(f"clpbackup simulate did not start (rc {proc.poll()})")

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_no_hash_in_tmp_and_logins_survive_a_tmp_cleaner(
    simulate: Callable[[], Started], monkeypatch: pytest.MonkeyPatch
) -> None:
    proc, tmpdir, local = simulate()
    assert _files_holding(tmpdir, _nt_hash(SIM_PASSWORD)) == []
    assert not list(tmpdir.glob("clpbackup-sim-ntlm-*"))
    # another process cleans the shared temporary folder: the simulator must still log users in
    for path in sorted(tmpdir.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    monkeypatch.setenv(SIM_PASSWORD_ENV, SIM_PASSWORD)
    with ClusterBackup(Plan.from_file(local)) as cb:
        result = cb.status()
    assert all(isinstance(v, StatusResult) for v in result.values()), result
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0


def test_sigterm_leaves_nothing_behind(simulate: Callable[[], Started]) -> None:
    proc, tmpdir, _ = simulate()
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    assert list(tmpdir.rglob("*")) == []


def test_the_credential_file_lives_in_memory_or_in_a_private_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clpbackup.testing.auth import CredentialStore

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    store = CredentialStore("EXAMPLE\\backup-admin", SIM_PASSWORD)
    if hasattr(os, "memfd_create"):
        assert store.path.startswith("/proc/self/fd/") and list(tmp_path.iterdir()) == []
        assert _nt_hash(SIM_PASSWORD) in Path(store.path).read_bytes()
    store.remove()
    # without memfd (not Linux): a 0700 folder of its own, removed with the store
    monkeypatch.delattr(os, "memfd_create", raising=False)
    store = CredentialStore("EXAMPLE\\backup-admin", SIM_PASSWORD)
    folder = Path(store.path).parent
    assert folder.parent == tmp_path and (folder.stat().st_mode & 0o777) == 0o700
    assert (Path(store.path).stat().st_mode & 0o777) == 0o600
    store.remove()
    assert list(tmp_path.iterdir()) == []
