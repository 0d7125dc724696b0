"""A scheduled wbadmin backup takes model time when the simulator is told so (``backup_duration``).

Real wbadmin copies for as long as the data takes and, when its output goes to a file, writes each
progress update ``Creating a backup of volume …, copied (NN%).`` on a line of its own
(shared/reference/outputs/wbadmin-start-backup_local-volume_win7-era_en-US.txt; windows-tools.md
§1.2). The model: the task shows Running while the copy lasts, the job's log grows as the clock
moves, and the run ends when the model time has passed. With the default (0) a run ends at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clpbackup.parsers.wbadmin import copied_percent
from clpbackup.plan import Plan
from clpbackup.testing import SimulatedCluster
from clpbackup.testing.model.node import SimulatedWindows, advance_nodes

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plans" / "ws2012-wsb.yaml"
LOG = r"C:\jobs\b.log"
BATCH = (
    "@echo off\r\n"
    r"wbadmin start backup -backupTarget:\\nas01\backup\node-a -include:C:\data,D:\app\config -quiet"
    f' > "{LOG}" 2>&1\r\n'
    "exit /b %ERRORLEVEL%\r\n"
)


def _cluster(monkeypatch: pytest.MonkeyPatch, seconds: float) -> tuple[SimulatedCluster, SimulatedWindows]:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "Backup-Time!")
    sim = SimulatedCluster.from_plan(Plan.from_file(EXAMPLE), backup_duration=seconds)
    node = sim.node("node-a").model
    node.write_file(r"C:\jobs\b.bat", BATCH)
    rc, _out, err = node.run_as(
        "Administrator",
        r'schtasks /Create /TN b /SC DAILY /ST 23:00 /TR "cmd /c C:\jobs\b.bat" /RU SYSTEM /F',
    )
    assert rc == 0, err
    return sim, node


def _models(sim: SimulatedCluster) -> list[SimulatedWindows]:
    return [n.model for n in sim.nodes]


def test_a_scheduled_backup_takes_model_time_and_writes_its_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    sim, node = _cluster(monkeypatch, 600)  # ten minutes: five per volume (C: and D:)
    rc, out, _err = node.run_as("Administrator", "schtasks /Run /TN b")
    assert rc == 0 and "SUCCESS" in out
    advance_nodes(_models(sim))  # the run starts and writes what it has at this moment
    task = node.scheduler.get("b")
    assert task is not None and task.running
    assert copied_percent(node.read_text(LOG)) == 0
    # the node answers while the backup runs (its lock is free): the task shows Running
    rc, out, _err = node.run_as("Administrator", "schtasks /Query /TN b /FO LIST /V")
    assert rc == 0 and "Running" in out

    advance_nodes(_models(sim), minutes=2)
    log = node.read_text(LOG)
    assert copied_percent(log) == 40 and "volume (C:), copied (35%)" in log and task.running
    advance_nodes(_models(sim), minutes=4)
    log = node.read_text(LOG)
    assert "volume (C:), copied (100%)" in log and copied_percent(log) == 20  # D: at 20 %
    assert task.running

    advance_nodes(_models(sim), minutes=4)
    assert not task.running and task.last_result == 0
    log = node.read_text(LOG)
    assert "The backup operation successfully completed." in log and copied_percent(log) == 100
    # each update on a line of its own, once (the statement's final write replaced the partial ones)
    assert log.count("volume (C:), copied (50%).") == 1
    versions = node.run_as("Administrator", r"wbadmin get versions -backupTarget:\\nas01\backup\node-a")
    assert "01/15/2024-00:00" in versions[1]  # the version is named by when the backup started
    assert not node.not_simulated


def test_advance_runs_timed_backups_in_order_and_ends_on_time(monkeypatch: pytest.MonkeyPatch) -> None:
    sim, node = _cluster(monkeypatch, 4 * 3600)  # two hours per volume
    ran = advance_nodes(_models(sim), hours=24)
    assert ran == ["node-a:b"]
    task = node.scheduler.get("b")
    assert task is not None and task.running  # started at 23:00, copying C: until 01:00
    assert copied_percent(node.read_text(LOG)) == 50
    advance_nodes(_models(sim), hours=2)
    assert task.running and copied_percent(node.read_text(LOG)) == 50  # D: from 01:00 to 03:00
    advance_nodes(_models(sim), hours=2)
    assert not task.running and task.last_result == 0
    assert node.clock.now().isoformat() == "2024-01-16T04:00:00+00:00"


def test_by_default_a_backup_ends_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _sim, node = _cluster(monkeypatch, 0)
    rc, _out, _err = node.run_as("Administrator", "schtasks /Run /TN b")
    task = node.scheduler.get("b")
    assert rc == 0 and task is not None and not task.running and task.last_result == 0
    assert not node.workers and copied_percent(node.read_text(LOG)) == 100
