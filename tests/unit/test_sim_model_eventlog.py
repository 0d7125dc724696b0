"""The simulated Application event log, eventcreate and clplogcmd (docs/windows-facts.md "Alerts")."""

from __future__ import annotations

import base64

import pytest

from clpbackup.testing.model import SimulatedWindows
from clpbackup.testing.model.eventlog import EVENTS_MARKER, state


def _run(node: SimulatedWindows, line: str) -> tuple[int, str, str]:
    r = node.run_cmdline(node.new_proc(user="SYSTEM"), line)
    return r.rc, r.out, r.err


def test_eventcreate_registers_its_source_and_writes_the_entry() -> None:
    node = SimulatedWindows("node-a", "2012")
    rc, out, _ = _run(node, 'eventcreate /T ERROR /ID 101 /L APPLICATION /SO clpbackup /D "job x failed"')
    assert rc == 0 and "SUCCESS" in out
    [entry] = state(node).application("clpbackup")
    assert (entry.event_id, entry.entry_type, entry.message) == (101, "Error", "job x failed")
    assert state(node).sources["clpbackup"] == ("clpbackup", "Application", True)
    rc, _, _ = _run(node, 'eventcreate /t error /id 101 /l application /so clpbackup /d "again"')
    assert rc == 0 and len(state(node).application("clpbackup")) == 2  # its own source: accepted again


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ('/T ERROR /ID 1001 /L APPLICATION /SO clpbackup /D "x"', "EventID must be in the range of 1 - 1000"),
        ('/T ERROR /ID 0 /L APPLICATION /SO clpbackup /D "x"', "EventID must be in the range of 1 - 1000"),
        ('/T ERROR /ID 5 /L APPLICATION /SO WinMgmt /D "x"', "custom applications/scripts only"),
        ('/T ERROR /ID 5 /L SECURITY /SO clpbackup /D "x"', "/L"),
        ('/T FATAL /ID 5 /L APPLICATION /SO clpbackup /D "x"', "/T"),
        ('/T ERROR /L APPLICATION /SO clpbackup /D "x"', "/ID"),
    ],
)
def test_eventcreate_refuses_what_its_reference_refuses(args: str, why: str) -> None:
    node = SimulatedWindows("node-a", "2012")
    rc, _, err = _run(node, "eventcreate " + args)
    assert rc == 1 and why in err, err
    assert state(node).application("clpbackup") == []


def test_eventcreate_types_on_2003_are_three() -> None:
    node = SimulatedWindows("old", "2003")
    rc, _, err = _run(node, 'eventcreate /T SUCCESSAUDIT /ID 5 /L APPLICATION /SO clpbackup /D "x"')
    assert rc == 1 and "/T" in err
    assert _run(node, 'eventcreate /T ERROR /ID 5 /L APPLICATION /SO clpbackup /D "x"')[0] == 0
    # NTBackup's source belongs to an installed program there
    assert "custom" in _run(node, 'eventcreate /T ERROR /ID 5 /L APPLICATION /SO NTBackup /D "x"')[2]


def test_clplogcmd_exists_only_where_clusterpro_is_installed() -> None:
    node = SimulatedWindows("node-a", "2012")
    rc, _, _ = _run(node, 'clplogcmd -m "backup failed" -i 101 -l ERR')
    assert rc == 0
    [alert] = state(node).alerts
    assert (alert.message, alert.event_id, alert.level) == ("backup failed", 101, "ERR")
    bare = SimulatedWindows("node-b", "2012", clplogcmd=False)
    rc, _, err = _run(bare, 'clplogcmd -m "x" -i 1 -l ERR')
    assert rc == 9009 and "not recognized" in err
    assert state(bare).alerts == []


def test_for_path_search_finds_clplogcmd_only_when_it_is_there() -> None:
    line = 'for %P in (clplogcmd.exe) do if not "%~$PATH:P" == "" clplogcmd -m "m" -i 3 -l ERR'
    node = SimulatedWindows("node-a", "2012")
    assert _run(node, line)[0] == 0 and len(state(node).alerts) == 1
    bare = SimulatedWindows("node-b", "2012", clplogcmd=False, clpstat=False)
    _run(bare, line)
    assert state(bare).alerts == [] and bare.not_simulated == []


def test_the_events_script_reads_back_the_newest_entries_of_a_source() -> None:
    node = SimulatedWindows("node-a", "2012")
    for i in (1, 2, 3):
        _run(node, f'eventcreate /T ERROR /ID 10{i} /L APPLICATION /SO clpbackup /D "m{i}"')
    _run(node, 'eventcreate /T ERROR /ID 7 /L APPLICATION /SO other /D "not ours"')
    script = EVENTS_MARKER + "\n$source = 'clpbackup'\n$newest = '2'\n$scan = '5000'\n"
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    rc, out, _ = _run(node, f"powershell -NoProfile -NonInteractive -EncodedCommand {encoded}")
    rows = out.splitlines()
    assert rc == 0 and rows[-1] == "clpbackup-events-end 2"
    assert [r.split()[4] for r in rows[:-1]] == ["103", "102"]
    assert base64.b64decode(rows[0].split()[5]).decode() == "m3"


def test_the_events_script_looks_only_through_the_newest_scan_entries() -> None:
    node = SimulatedWindows("node-a", "2012")
    _run(node, 'eventcreate /T ERROR /ID 101 /L APPLICATION /SO clpbackup /D "old"')
    for i in range(3):
        _run(node, f'eventcreate /T INFORMATION /ID 5 /L APPLICATION /SO other /D "n{i}"')
    script = EVENTS_MARKER + "\n$source = 'clpbackup'\n$newest = '10'\n$scan = '3'\n"
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    _, out, _ = _run(node, f"powershell -NoProfile -NonInteractive -EncodedCommand {encoded}")
    assert out.splitlines() == ["clpbackup-events-end 0"]  # the clpbackup entry is 4th from the end
