"""Parse what clpbackup's read-back script prints about the Application event log (ALERT-1).

Pure code, no I/O. The script is clpbackup's own (:func:`clpbackup.alerts.events_script`, PowerShell
2.0 over the .NET 2.0 ``System.Diagnostics.EventLog`` class), so the format is ours, not Windows'.
One line per entry, newest first, then an end line with the count::

    clpbackup-event <index> <yyyy-MM-ddTHH:mm:ss> <EntryType> <event ID> <base64 of the UTF-8 message>
    clpbackup-events-end <count>

``<index>`` is the entry's record number in the log; the time is the node's local time
(``TimeGenerated``); ``<EntryType>`` is .NET's name (``Error``, ``Warning``, ``Information``,
``SuccessAudit``, ``FailureAudit``); the message is base64 so any code page survives the console.
No entries (a source never registered included) is just the end line with 0. Text without the end
line, or with a count that does not match, is a :class:`~clpbackup.errors.ParseError` (the read was
cut short: never read as "no failures").
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from clpbackup.errors import ParseError

__all__ = ["LoggedEvent", "parse_events"]

_ENTRY_TYPES = ("Error", "Warning", "Information", "SuccessAudit", "FailureAudit")
_TOOL = "the event log read-back (ALERT-1)"


def _error(text: str, reason: str) -> ParseError:
    return ParseError(_TOOL, text, reason)


@dataclass(frozen=True)
class LoggedEvent:
    """One Application event log entry of source ``clpbackup``."""

    index: int
    time: datetime
    """The node's local time, as the node's clock had it (no zone)."""
    entry_type: str
    event_id: int
    message: str


def _line(line: str) -> LoggedEvent:
    parts = line.split(" ")
    if len(parts) != 6:
        raise _error(line, f"an event line has {len(parts)} fields, not 6")
    _, index, when, kind, event_id, text = parts
    if kind not in _ENTRY_TYPES:
        raise _error(line, f"unknown event type {kind!r}")
    try:
        return LoggedEvent(
            int(index),
            datetime.strptime(when, "%Y-%m-%dT%H:%M:%S"),
            kind,
            int(event_id),
            base64.b64decode(text, validate=True).decode("utf-8"),
        )
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _error(line, f"an event line cannot be read ({exc})") from None


def parse_events(text: str) -> list[LoggedEvent]:
    """The entries the read-back script printed, newest first."""
    events: list[LoggedEvent] = []
    end: int | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if end is not None:
            raise _error(text, f"text after the end line: {line[:120]!r}")
        if line.startswith("clpbackup-event "):
            events.append(_line(line))
        elif line.startswith("clpbackup-events-end "):
            count = line.split(" ", 1)[1]
            if not count.isdigit():
                raise _error(text, f"the end line has no count: {line!r}")
            end = int(count)
        else:
            raise _error(text, f"not a line of clpbackup's event read-back: {line[:120]!r}")
    if end is None:
        raise _error(text, "no end line: the output was cut short")
    if end != len(events):
        raise _error(text, f"it announced {end} entries and gave {len(events)}")
    return events
