r"""The Application event log, ``eventcreate.exe`` and CLUSTERPRO's ``clplogcmd`` on a simulated node.

``eventcreate /T <type> /ID <id> {/L APPLICATION|SYSTEM | /SO <source>} /D <description>`` (Microsoft's
command reference, docs/windows-facts.md "Alerts"): the ID is 1–1000 ("ERROR: EventID must be in the
range of 1 - 1000."); the types are ERROR, WARNING, INFORMATION on 2003 and also SUCCESSAUDIT,
FAILUREAUDIT from 2008; the logs APPLICATION and SYSTEM only. A source that does not exist yet is
registered by eventcreate itself (with its ``CustomSource`` mark); a source that exists without that
mark belongs to an installed program and is refused ("ERROR: Source parameter is used to identify
custom applications/scripts only (not installed applications)."). Every entry is kept with its
local time, type, ID and text; :func:`events_script` answers clpbackup's read-back script.

``clplogcmd -m <message> [-i <id>] [-l INFO|WARN|ERR]`` (the form NEC's own batch scripts use)
writes one entry into CLUSTERPRO's alert log; it exists only where CLUSTERPRO is installed (the
node's ``clplogcmd`` option). Its message length limit, ID range and exit codes are not in a public
source this project could read: the model accepts what NEC's scripts pass and records any other
level as not simulated.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from clpbackup.testing.model.base import Proc, ToolResult, lines

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.testing.model.node import SimulatedWindows

EVENTCREATE_TYPES_2003 = ("ERROR", "WARNING", "INFORMATION")
EVENTCREATE_TYPES = (*EVENTCREATE_TYPES_2003, "SUCCESSAUDIT", "FAILUREAUDIT")
_ENTRY_TYPES = {
    "ERROR": "Error",
    "WARNING": "Warning",
    "INFORMATION": "Information",
    "SUCCESSAUDIT": "SuccessAudit",
    "FAILUREAUDIT": "FailureAudit",
}
#: Sources an installed program registered (no ``CustomSource`` mark): eventcreate refuses them.
INSTALLED_SOURCES = ("Application Error", "MsiInstaller", "WinMgmt", "NTBackup", "EXPRESSCLUSTER X")
CLPLOGCMD_LEVELS = ("INFO", "WARN", "ERR")


@dataclass
class EventEntry:
    """One entry of a classic event log."""

    index: int
    log: str  # "Application" | "System"
    source: str
    event_id: int
    entry_type: str  # "Error" | "Warning" | "Information" | "SuccessAudit" | "FailureAudit"
    message: str
    time: datetime  # the node's local time
    user: str


@dataclass
class AlertEntry:
    """One entry ``clplogcmd`` wrote into CLUSTERPRO's alert log."""

    message: str
    event_id: int | None
    level: str
    time: datetime  # the node's local time
    user: str
    argv: list[str]


@dataclass
class EventLogState:
    """The node's classic event logs (Application, System) and CLUSTERPRO's alert log."""

    entries: list[EventEntry] = field(default_factory=list)
    #: registered sources: lower-case name -> (name, log, made by eventcreate)
    sources: dict[str, tuple[str, str, bool]] = field(default_factory=dict)
    alerts: list[AlertEntry] = field(default_factory=list)
    #: every eventcreate command line as received (redacted by the node's history as well)
    eventcreate_calls: list[list[str]] = field(default_factory=list)

    def application(self, source: str | None = None) -> list[EventEntry]:
        """The Application log's entries (of ``source`` when given), oldest first."""
        return [
            e
            for e in self.entries
            if e.log == "Application" and (source is None or e.source.lower() == source.lower())
        ]

    def write(self, node: SimulatedWindows, log: str, source: str, event_id: int, entry_type: str,
              message: str, user: str) -> EventEntry:
        """Append an entry (what ``ReportEvent`` does for any program)."""
        entry = EventEntry(len(self.entries) + 1, log, source, event_id, entry_type, message,
                           node.time.local(), user)
        self.entries.append(entry)
        return entry


def state(node: SimulatedWindows) -> EventLogState:
    """The node's event log state (created on first use, with the installed programs' sources)."""
    if node.eventlog is None:
        st = EventLogState()
        for name in INSTALLED_SOURCES:
            if name == "NTBackup" and node.os != "2003":
                continue
            st.sources[name.lower()] = (name, "Application", False)
        node.eventlog = st
    current = node.eventlog
    assert isinstance(current, EventLogState)
    return current


def _options(argv: list[str]) -> tuple[dict[str, str], str | None]:
    """``/X value`` pairs (switches case-insensitive); the first malformed token, if any."""
    opts: dict[str, str] = {}
    i = 0
    while i < len(argv):
        tok = argv[i]
        if not tok.startswith("/") or i + 1 >= len(argv):
            return opts, tok
        opts[tok[1:].upper()] = argv[i + 1]
        i += 2
    return opts, None


_USAGE = 'Type "EVENTCREATE /?" for usage.'


def _error(text: str) -> ToolResult:
    # eventcreate prints "ERROR: ..." and exits 1 [exit code: mem]
    return ToolResult(1, err=lines(text))


def eventcreate_command(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    """``eventcreate.exe`` (local computer only: ``/S /U /P`` are not modelled)."""
    st = state(node)
    st.eventcreate_calls.append(list(argv))
    opts, bad = _options(argv)
    if bad is not None:
        return _error(f"ERROR: Invalid argument/option - '{bad}'.\n{_USAGE}")
    for remote in ("S", "U", "P"):
        if remote in opts:
            return node.not_simulated_result(f"eventcreate /{remote} (a remote computer)")
    unknown = set(opts) - {"T", "ID", "L", "SO", "D"}
    if unknown:
        name = sorted(unknown)[0]
        return _error(f"ERROR: Invalid argument/option - '/{name}'.\n" + _USAGE)
    for required in ("T", "ID", "D"):
        if required not in opts:
            return _error(f"ERROR: Mandatory option '/{required}' is missing.\n" + _USAGE)
    if "L" not in opts and "SO" not in opts:
        return _error("ERROR: Specify /L or /SO.\n" + _USAGE)
    kinds = EVENTCREATE_TYPES_2003 if node.os == "2003" else EVENTCREATE_TYPES
    kind = opts["T"].upper()
    if kind not in kinds:
        return _error(f"ERROR: Invalid value '{opts['T']}' for the /T option.\n" + _USAGE)
    try:
        event_id = int(opts["ID"])
    except ValueError:
        event_id = 0
    if not 1 <= event_id <= 1000:
        return _error("ERROR: EventID must be in the range of 1 - 1000.")
    log = opts.get("L", "APPLICATION").upper()
    if log not in ("APPLICATION", "SYSTEM"):
        return _error(f"ERROR: Invalid value '{opts['L']}' for the /L option.\n" + _USAGE)
    log_name = "Application" if log == "APPLICATION" else "System"
    source = opts.get("SO", "EventCreate")
    known = st.sources.get(source.lower())
    if known is not None and not known[2]:
        return _error(
            "ERROR: Source parameter is used to identify custom applications/scripts only "
            "(not installed applications)."
        )
    if known is not None and known[1] != log_name:
        return _error(f"ERROR: Source '{source}' already exists in the '{known[1]}' log.")  # mem
    if known is None:
        st.sources[source.lower()] = (source, log_name, True)
    name = known[0] if known is not None else source
    st.write(node, log_name, name, event_id, _ENTRY_TYPES[kind], opts["D"], proc.user)
    return ToolResult(
        0,
        lines(f"SUCCESS: An event of type '{kind}' was created in the '{log_name}' log with "
              f"'{name}' as the source."),
    )  # en assumed


def clplogcmd_command(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    """``clplogcmd -m <message> [-i <id>] [-l <level>]`` (the destinations ``--alert`` … are not
    modelled: NEC's batch scripts pass none)."""
    message: str | None = None
    event_id: int | None = None
    level = "INFO"
    i = 0
    while i < len(argv):
        opt = argv[i]
        if opt in ("-m", "-i", "-l") and i + 1 < len(argv):
            value = argv[i + 1]
            if opt == "-m":
                message = value
            elif opt == "-i":
                if not value.isdigit():
                    return node.not_simulated_result(f"clplogcmd -i {value} (a non-numeric ID)")
                event_id = int(value)
            else:
                level = value.upper()
            i += 2
            continue
        return node.not_simulated_result(f"clplogcmd option {opt!r}")
    if message is None:
        return node.not_simulated_result("clplogcmd without -m")
    if level not in CLPLOGCMD_LEVELS:
        return node.not_simulated_result(f"clplogcmd -l {level}")
    state(node).alerts.append(AlertEntry(message, event_id, level, node.time.local(), proc.user, list(argv)))
    return ToolResult(0)


EVENTS_MARKER = "# clpbackup-op: events v1"
_PS_VALUE = re.compile(r"^\$(source|newest|scan) = '?((?:[^']|'')*?)'?\r?$", re.MULTILINE)


def events_script(node: SimulatedWindows, proc: Proc, script: str) -> ToolResult:
    """clpbackup's read-back script (:func:`clpbackup.alerts.events_command`), by its marker: the
    newest ``$newest`` entries of source ``$source`` among the newest ``$scan`` entries of the
    Application log, newest first."""
    values = {k: v.replace("''", "'") for k, v in _PS_VALUE.findall(script)}
    if set(values) != {"source", "newest", "scan"} or not (values["newest"] + values["scan"]).isdigit():
        return node.not_simulated_result("powershell: an events script without its three values")
    recent = state(node).application()[-int(values["scan"]) :] if int(values["scan"]) else []
    mine = [e for e in recent if e.source.lower() == values["source"].lower()]
    found = mine[::-1][: int(values["newest"])]
    out: list[str] = []
    for e in found:
        text = base64.b64encode(e.message.encode("utf-8")).decode("ascii")
        out.append(f"clpbackup-event {e.index} {e.time.strftime('%Y-%m-%dT%H:%M:%S')} {e.entry_type} "
                   f"{e.event_id} {text}")
    out.append(f"clpbackup-events-end {len(found)}")
    return ToolResult(0, lines(*out))
