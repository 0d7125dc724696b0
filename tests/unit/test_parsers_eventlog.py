"""The event read-back of ALERT-1 (clpbackup.parsers.eventlog) and the script that prints it."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest

from clpbackup import alerts
from clpbackup.errors import ParseError
from clpbackup.parsers.eventlog import parse_events


def _line(index: int, event_id: int, message: str, kind: str = "Error") -> str:
    text = base64.b64encode(message.encode("utf-8")).decode()
    return f"clpbackup-event {index} 2024-01-16T08:00:05 {kind} {event_id} {text}"


def test_entries_newest_first_with_their_message_in_any_code_page() -> None:
    out = "\r\n".join([
        _line(42, 101, "clpbackup ALERT-1 [101]: backup job local-daily failed on kaikei-sv1, "
                       "exit code 1; log C:\\バックアップ\\logs\\local-daily.log"),
        _line(7, 103, "m"),
        "clpbackup-events-end 2",
        "",
    ])
    first, second = parse_events(out)
    assert (first.index, first.event_id, first.entry_type) == (42, 101, "Error")
    assert first.time == datetime(2024, 1, 16, 8, 0, 5)
    assert "C:\\バックアップ\\logs" in first.message
    assert second.event_id == 103


def test_no_entries_is_the_end_line_alone() -> None:
    assert parse_events("clpbackup-events-end 0\r\n") == []


@pytest.mark.parametrize(
    "text",
    [
        "",  # nothing: the read was cut short, never "no failures"
        _line(1, 101, "m"),  # no end line
        _line(1, 101, "m") + "\nclpbackup-events-end 2",  # a count that does not match
        "clpbackup-event 1 2024-01-16T08:00:05 Error 101 !!!\nclpbackup-events-end 1",  # not base64
        "clpbackup-event 1 yesterday Error 101 bQ==\nclpbackup-events-end 1",
        "clpbackup-event 1 2024-01-16T08:00:05 Bad 101 bQ==\nclpbackup-events-end 1",
        "Get-EventLog : No matches found\nclpbackup-events-end 0",
        "clpbackup-events-end 0\nclpbackup-event 1 2024-01-16T08:00:05 Error 101 bQ==",
    ],
)
def test_anything_else_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError, match="event log read-back"):
        parse_events(text)


def test_the_read_back_script_is_read_only_and_names_its_source() -> None:
    script = alerts.events_script()
    assert script.startswith(alerts.EVENTS_MARKER + "\n")
    assert "$source = 'clpbackup'" in script and f"$newest = '{alerts.NEWEST}'" in script
    for verb in ("Clear", "Remove", "Write", "Set-", "New-EventLog", "CreateEventSource", "Delete"):
        assert verb not in script
    cmd = alerts.events_command("2003")
    assert cmd.argv[:4] == ("powershell", "-NoProfile", "-NonInteractive", "-EncodedCommand")
    assert base64.b64decode(cmd.argv[4]).decode("utf-16-le") == script


def test_each_failure_kind_has_its_own_id_in_eventcreates_range() -> None:
    ids = [k.event_id for k in alerts.KINDS]
    assert len(set(ids)) == len(ids) and all(1 <= i <= 1000 for i in ids)
    assert alerts.kind_of(102) is alerts.FAILOVER_RUN_FAILED and alerts.kind_of(5) is None


def test_the_read_back_script_is_powershell_2_code() -> None:
    import re

    from tests.helpers.treesitter import powershell_errors
    from tests.unit.test_remote_ops_ps import FORBIDDEN

    script = alerts.events_script()
    assert powershell_errors(script) == []
    assert [what for what, rx in FORBIDDEN.items() if re.search(rx, script, re.MULTILINE)] == []
    assert script.isascii()
