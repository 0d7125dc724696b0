"""Failures raised where cluster operators look (ALERT-1). Pure: no I/O.

A backup script whose tool ends with an exit code other than 0 (and other than the expected 303 of
JOB-3), a ``failover.bat`` that could not schedule the failover backup, and a weekly restore drill
that failed (DRILL-2), write:

* an entry in CLUSTERPRO's alert log, ``clplogcmd -m "<message>" -i <id> -l ERR`` (the form NEC's
  published batch scripts use), only where ``clplogcmd`` is on the Path (``for %%P in
  (clplogcmd.exe) do if not "%%~$PATH:P" == ""``: cmd.exe's own search, 2003 included);
* an Application event log entry, ``eventcreate /T ERROR /ID <id> /L APPLICATION /SO clpbackup
  /D "<message>"``, which any monitoring that watches the event log sees.

Both get the same event ID (:data:`KINDS`, docs/operations.md "Alerts") and the same message: it
names the job, the node, the exit code and the log file, and carries no secret (no plan value but
the job, the node and the scripts folder). ``status`` reads the newest entries of source
``clpbackup`` back with :func:`events_command` (one more command of the same inspect request).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from clpbackup.commands import Command

__all__ = [
    "BACKUP_FAILED",
    "DRILL_FAILED",
    "EVENTS_MARKER",
    "EVENT_SOURCE",
    "FAILOVER_NOT_SCHEDULED",
    "FAILOVER_RUN_FAILED",
    "KINDS",
    "NEWEST",
    "RC",
    "AlertKind",
    "alert_commands",
    "events_command",
    "kind_of",
    "message",
]

#: The event source eventcreate registers (a custom source: eventcreate refuses sources that
#: installed programs own, docs/windows-facts.md "Alerts").
EVENT_SOURCE = "clpbackup"
#: The batch variable that holds the failing exit code where the alert lines run.
RC = "%RC%"
#: How many of the newest clpbackup entries ``status`` reads back per node.
NEWEST = 10
#: How many of the Application log's newest entries the read-back looks through at most: reading an
#: entry costs a record read, and a busy log holds tens of thousands (the read stays bounded).
SCAN = 5000


@dataclass(frozen=True)
class AlertKind:
    """One failure kind: its event ID (the same in both logs) and what it means."""

    event_id: int
    name: str
    what: str
    action: str


BACKUP_FAILED = AlertKind(
    101,
    "backup-failed",
    "a run of a job's backup script ended with an exit code other than 0 and 303 (JOB-3)",
    "read the job's log named in the message; run the job again with run_backup once fixed",
)
FAILOVER_RUN_FAILED = AlertKind(
    102,
    "failover-backup-failed",
    "the failover run of the switchover job (its own script, NTBackup /M normal) failed (FO-2)",
    "read the log named in the message; take the full backup by hand (failover_backup(now))",
)
FAILOVER_NOT_SCHEDULED = AlertKind(
    103,
    "failover-not-scheduled",
    "failover.bat could not schedule the one-shot failover backup on the new owner (FO-2)",
    "read logs\\failover.log; schedule it with failover_backup(at=...) or run it now",
)
DRILL_FAILED = AlertKind(
    104,
    "restore-drill-failed",
    "the weekly restore drill task found no version, recovered no canary, or recovered one no run "
    "recorded (DRILL-2)",
    "read the drill log named in the message and logs\\<job>-drill.txt; run clpbackup drill --job "
    "<job> to see it from the operator's side",
)
KINDS: tuple[AlertKind, ...] = (BACKUP_FAILED, FAILOVER_RUN_FAILED, FAILOVER_NOT_SCHEDULED, DRILL_FAILED)


def kind_of(event_id: int) -> AlertKind | None:
    """The failure kind of a clpbackup event ID (``None`` for an ID clpbackup does not write)."""
    return next((k for k in KINDS if k.event_id == event_id), None)


def message(kind: AlertKind, job: str, node: str, log: str) -> str:
    """The text both logs get; ``%RC%`` is expanded by cmd.exe when the line runs."""
    if kind is DRILL_FAILED:
        what = f"the weekly restore drill of job {job} failed on {node}"
    elif kind is FAILOVER_NOT_SCHEDULED:
        what = f"the failover backup of job {job} could not be scheduled on {node}"
    elif kind is FAILOVER_RUN_FAILED:
        what = f"the failover backup of job {job} failed on {node}"
    else:
        what = f"backup job {job} failed on {node}"
    return f"clpbackup ALERT-1 [{kind.event_id}]: {what}, exit code {RC}; log {log}"


def alert_commands(kind: AlertKind, text: str, os: str, *, field: str | None) -> tuple[Command, Command]:
    """``clplogcmd`` and ``eventcreate`` with ``text`` (the batch file guards the first)."""
    clplogcmd = Command(("clplogcmd", "-m", text, "-i", str(kind.event_id), "-l", "ERR"), os, field=field)
    eventcreate = Command(
        ("eventcreate", "/T", "ERROR", "/ID", str(kind.event_id), "/L", "APPLICATION", "/SO", EVENT_SOURCE,
         "/D", text),
        os,
        field=field,
    )
    return clplogcmd, eventcreate


EVENTS_MARKER = "# clpbackup-op: events v1"

_EVENTS_SCRIPT = """{marker}
# Read-only: the newest entries of one source among the newest $scan entries of the Application
# log, newest first. The .NET 2.0
# EventLog class reads entries of a source that was never registered as none (Get-EventLog would
# stop with "No matches found"). Messages go out as base64 of UTF-8: any code page survives.
$source = '{source}'
$newest = '{newest}'
$scan = '{scan}'
$found = 0
$log = New-Object System.Diagnostics.EventLog -ArgumentList 'Application'
$entries = $log.Entries
$last = [Math]::Max(0, $entries.Count - [int]$scan)
for ($i = $entries.Count - 1; ($i -ge $last) -and ($found -lt [int]$newest); $i--) {{
    try {{
        $e = $entries[$i]
    }} catch {{
        continue
    }}
    if ($e.Source -eq $source) {{
        $found++
        $text = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes([string]$e.Message))
        $invariant = [Globalization.CultureInfo]::InvariantCulture
        $when = $e.TimeGenerated.ToString('yyyy-MM-ddTHH:mm:ss', $invariant)
        $id = [int]($e.InstanceId -band 0xFFFF)
        'clpbackup-event ' + $e.Index + ' ' + $when + ' ' + $e.EntryType + ' ' + $id + ' ' + $text
    }}
}}
'clpbackup-events-end ' + $found
"""


def events_script(newest: int = NEWEST) -> str:
    """The PowerShell 2.0 script :func:`events_command` runs (its text, for the syntax tests)."""
    return _EVENTS_SCRIPT.format(marker=EVENTS_MARKER, source=EVENT_SOURCE, newest=newest, scan=SCAN)


def events_command(os: str, newest: int = NEWEST) -> Command:
    """``powershell -NoProfile -NonInteractive -EncodedCommand <events script>``: the read-back
    probe of ``status`` (parsed by :func:`clpbackup.parsers.eventlog.parse_events`)."""
    encoded = base64.b64encode(events_script(newest).encode("utf-16-le")).decode("ascii")
    return Command(("powershell", "-NoProfile", "-NonInteractive", "-EncodedCommand", encoded), os)
