"""Fuzzing the plan → rules → render path with random plans and hostile strings in every field.

A random *valid* plan (any OS family, en-US cp437 or ja-JP cp932, AT or schtasks, NTBackup or WSB
jobs, a failover backup now or at a time) gets one to three of its fields replaced by hostile text:
cmd.exe operators, ``%VAR%`` and ``!VAR!``, quotes and backslash-quote runs, line breaks and other
control or invisible characters, characters outside the node's code page, PowerShell injections,
wbadmin/ntbackup switches, very long values; an unknown key or a wrong type now and then. The
plan then goes through the same door an operator's plan does (``Plan.from_dict``, or YAML text
through ``Plan.from_yaml``), the rule checks, and rendering. Exactly one of two things may happen:

* it is refused: a :class:`~clpbackup.errors.PlanError` from loading, or an error finding from the
  rule checks, that names the field that was changed (or the job or list that holds it) — never an
  error without a field, never an exception of another type;
* it is accepted, and then every artifact is safe: each batch file is CRLF text in the node's code
  page that tree-sitter-batch parses without an error; each line is one of the statement forms of
  ``docs/design.md``; a tool line, read back the way cmd.exe reads it (``%%`` → ``%``, ``^x`` →
  ``x`` outside quotes, an unescaped ``& | < > ( )``, a lone ``%`` or any ``!`` is an error) and then
  split by CommandLineToArgvW (``tests/helpers/argv.py``, written apart from ``winquote``), gives
  back exactly the argv the platform module built from the plan; every quoted path and every
  ``rem`` text is free of the characters cmd.exe would reinterpret; every schedule's command line
  round-trips to its argv; the NTBackup selection keeps each path intact.

Budget: :func:`tests.reliability._profiles.fuzz` (``ci`` bounded, ``long`` for soak runs).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from hypothesis import assume, event, given
from hypothesis import strategies as st

from clpbackup import alerts, render
from clpbackup.artifacts import ArtifactFile, NodeArtifacts
from clpbackup.errors import PlanError
from clpbackup.plan import Plan, format_hhmm
from clpbackup.platforms import get_platform
from clpbackup.render import BKS_ENCODING, bks_line, failover_run, once_schedule, render_plan, selection_path
from clpbackup.rules import Finding, canary_path, weekly_drill_starts
from clpbackup.winquote import CMD_PATH_FORBIDDEN
from tests.helpers.argv import (
    BatchParseError,
    batch_line_to_command_line,
    command_line_to_argv,
    split_redirection,
)
from tests.helpers.treesitter import batch_errors
from tests.reliability._profiles import fuzz

pytestmark = pytest.mark.reliability

# -- random valid plans --------------------------------------------------------------------------------

_DURATIONS = {"30m": 30, "1h": 60, "90m": 90}


@st.composite
def base_plans(draw: st.DrawFn) -> dict[str, Any]:
    """A plan (as the dict an operator's YAML gives) that loads and has no error finding."""
    os_a = draw(st.sampled_from(["2003", "2008", "2008R2", "2012", "2012R2", "2016", "2019", "2022"]))
    # OS-2 (a warning): a mixed pair is allowed between the wbadmin versions
    os_b = os_a if os_a == "2003" else draw(st.sampled_from([os_a, os_a, "2008R2", "2012", "2019"]))
    no_at = {"2016", "2019", "2022"} & {os_a, os_b}  # OS-1: at.exe creates no jobs there
    ntbackup = os_a == "2003"
    codepage = draw(st.sampled_from([437, 932]))
    volumes = draw(st.sampled_from([["E:"], ["E:", "F:"]]))
    n_local = draw(st.integers(0, 2))
    n_switch = draw(st.integers(1, 2))
    cursor = draw(st.integers(0, 5 * 60))
    jobs: dict[str, Any] = {}
    local_folders = ["C:\\data", "D:\\app\\config", "C:\\Documents and Settings"]
    if codepage == 932:
        local_folders.append("C:\\業務データ")
    rtm = "2008" in (os_a, os_b)  # OS-1: 2008 (RTM) backs up whole volumes only, no -exclude
    if rtm:
        local_folders = ["C:", "D:"]
    if ntbackup:  # a .bks folder line ends with a backslash (a line without it names a file)
        local_folders = [f + "\\" for f in local_folders]
    for i in range(n_local + n_switch):
        scope = "local" if i < n_local else "switchover"
        name = ("local" if scope == "local" else "shared") + f"-{i}"
        duration = draw(st.sampled_from(sorted(_DURATIONS)))
        minutes = _DURATIONS[duration]
        if scope == "local":
            include = draw(st.lists(st.sampled_from(local_folders), min_size=1, max_size=2, unique=True))
        else:
            include = list(volumes) if draw(st.booleans()) else [volumes[0] + "\\"]
        job: dict[str, Any] = {
            "scope": scope,
            "include": include,
            "daily_at": format_hhmm(cursor),
            "expected_duration": duration,
        }
        # the standby node runs a switchover job after the home node (SCH-2): keep the day free
        cursor += minutes + (15 + minutes if scope == "switchover" else 0) + 10
        if draw(st.booleans()) and scope == "local" and not rtm:
            job["exclude"] = [include[0].rstrip("\\") + ("\\tmp\\" if ntbackup else "\\tmp")]
        if ntbackup:
            media = draw(st.sampled_from(["media_pool", "tape", "file"]))
            nt: dict[str, Any] = {"type": draw(st.sampled_from(["normal", "incremental", "copy"]))}
            if media == "media_pool":
                nt["media_pool"] = f"4mm DDS {i}"
            elif media == "tape":
                nt["tape"] = f"Tape {i}"
                nt["append"] = True
            else:
                nt["file"] = f"D:\\ntbackup\\{name}.bkf"
            if media != "file" and draw(st.booleans()):
                nt["library"] = "HP DAT72"
                nt["refresh_wait"] = draw(st.integers(0, 90))
            if draw(st.booleans()):
                nt["description"] = f"{name} set"
            job["ntbackup"] = nt
        else:
            suffix = "" if scope == "local" else "-shared"
            job["target"] = draw(st.sampled_from([f"\\\\nas01\\backup\\{{node}}{suffix}-{i}", "G:"]))
            if job["target"] == "G:" and scope == "local":
                job["target"] = f"\\\\nas01\\backup\\{{node}}-{i}"
            job["vss"] = draw(st.sampled_from(["copy", "full"]))
            if rtm:
                job["vss"] = "full"  # -vssCopy needs 2008 R2
        jobs[name] = job
    plan: dict[str, Any] = {
        "cluster": {"name": "prod", "failover_group": "failover1", "switchover_volumes": volumes},
        "nodes": [
            {"name": "node-a", "host": "192.0.2.11", "os": os_a, "home": True},
            {"name": "node-b", "host": "192.0.2.12", "os": os_b},
        ],
        "connection": {
            "auth": draw(st.sampled_from(["negotiate", "ntlm", "kerberos"])),
            "username": "EXAMPLE\\backup-admin",
            "password": {"env": "CLPBACKUP_PASSWORD"},
            "codepage": codepage,
        },
        "scripts_dir": draw(st.sampled_from(["C:\\clpbackup", "C:\\ops\\clp backup"])),
        "scheduler": draw(st.sampled_from(["auto", "auto", "schtasks"] + ([] if no_at else ["at"]))),
        "jobs": jobs,
    }
    if draw(st.booleans()):
        plan["cluster"]["start_script"] = "C:\\Program Files\\CLUSTERPRO\\scripts\\failover1\\start.bat"
    switch = [n for n, j in jobs.items() if j["scope"] == "switchover"]
    fb_job = draw(st.sampled_from(switch))
    fb_at = "now"
    fb_end = cursor + 10 + _DURATIONS[jobs[fb_job]["expected_duration"]]
    # FO-2: a one-shot at a time with schtasks on 2003 is refused (Task Scheduler 1.0 cannot be
    # given the next date), so the generator keeps "now" there
    schtasks_2003 = plan["scheduler"] == "schtasks" and "2003" in (os_a, os_b)
    if draw(st.booleans()) and fb_end < 24 * 60 - 10 and not schtasks_2003:
        fb_at = format_hhmm(cursor + 10)
    plan["failover_backup"] = {"job": fb_job, "at": fb_at}
    return plan


# -- hostile text --------------------------------------------------------------------------------------

HOSTILE_PIECES = [
    *"&|<>^()%!\"'`;,=@ \t",
    "& calc.exe", "| del /q C:\\*", "> nul", "2>&1", "&&", "||", "%PATH%", "%%", "%~dp0", "%1",
    "!CLP_EVENT!", "^", "^&", "^^", "\"&\"", "\"", "\"\"", "\\\"", "\\\\\"", "\\", "a\"b",
    "\" & echo pwned > C:\\x.txt & \"", "$(Get-Item C:\\)", "'; Remove-Item C:\\ -Recurse; '",
    "`n", "${env:PATH}", "\r\n", "\n", "\r", "\x00", "\x1b[31m", "\x7f", "\u2028", "\u0085",
    "\u200b", "\ufeff", "\u202e", "業務データ", "　", "\U0001f600", "한국어", "Ω", "ü", "€",
    "%CLP_EVENT%", "{node}", "{cluster}", "-quiet", "/F", "-include:Z:", "-allCritical",
    " /RP secret", "-password:x", "..\\..\\", "\\\\?\\C:\\", "CON", "NUL:", "x" * 300, "",
    " ", "C:", "E:", "\\\\nas\\share", ":", "*", "?", "#", "~",
]
_PREFIXES = ["", "", "C:\\data", "E:\\", "\\\\nas01\\backup\\", "x", "C:\\clp "]

hostile_text: st.SearchStrategy[str] = st.builds(
    lambda prefix, parts: prefix + "".join(parts),
    st.sampled_from(_PREFIXES),
    st.lists(
        st.one_of(
            st.sampled_from(HOSTILE_PIECES),
            st.text(st.characters(codec="utf-8"), min_size=1, max_size=6),
        ),
        min_size=1,
        max_size=4,
    ),
)


# -- mutation of a plan dict ----------------------------------------------------------------------------

Path = tuple[Any, ...]


def field_name(path: Path) -> str:
    """``("jobs", "a", "include", 0)`` → ``jobs.a.include[0]`` (the form PlanError.field uses)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def _leaves(data: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _leaves(value, (*path, i))
    else:
        yield path, data


def _mappings(data: Any, path: Path = ()) -> Iterator[Path]:
    if isinstance(data, dict):
        yield path
        for key, value in data.items():
            yield from _mappings(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _mappings(value, (*path, i))


def _get(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data


@dataclass(frozen=True)
class Mutation:
    kind: str  # "value" | "job-name" | "unknown-key" | "append"
    path: Path  # the field changed (for job-name: ("jobs", <new name>))

    @property
    def field(self) -> str:
        return field_name(self.path)


_FREE_TEXT = re.compile(
    r"^(scripts_dir|cluster\.start_script|connection\.username"
    r"|jobs\.[^.]+\.(include\[\d+\]|exclude\[\d+\]|target|ntbackup\.(media_pool|tape|file|library|description)))$"
)


def shape(field: str) -> str:
    """``jobs.local-0.include[1]`` → ``jobs.*.include[]`` (for the statistics)."""
    field = re.sub(r"\[\d+\]", "[]", field)
    return re.sub(r"^jobs\.[^.\[]+", "jobs.*", field)


@st.composite
def mutate(
    draw: st.DrawFn, plan: dict[str, Any], only: re.Pattern[str] | None = None
) -> tuple[dict[str, Any], list[Mutation]]:
    """``plan`` with 1-3 fields replaced by hostile text (a deep copy), and what was changed.

    Most changes go to the free-text fields (paths, names of media, the target, the user name),
    where hostile text may legitimately be accepted and must then be carried safely; the others
    go to any field (names, times, code page, booleans …), a job's name, an unknown key, or a new
    list item. With ``only``, every change goes to a field whose name matches it.
    """
    data = copy.deepcopy(plan)
    done: list[Mutation] = []
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        kinds = ["free-text"] * 6 + ["value"] * 2 + ["job-name", "unknown-key", "append"]
        kind = draw(st.sampled_from(kinds)) if only is None else "free-text"
        text = draw(hostile_text)
        if kind in ("free-text", "value"):
            leaves = [p for p, _v in _leaves(data)]
            if kind == "free-text":
                pattern = only or _FREE_TEXT
                leaves = [p for p in leaves if pattern.match(field_name(p))]
            path = draw(st.sampled_from(leaves))
            _get(data, path[:-1])[path[-1]] = text
        elif kind == "append":
            lists = [p for p, _v in _leaves(data) if len(p) > 1 and p[-1] == 0]
            parent = draw(st.sampled_from(lists))[:-1]
            target = _get(data, parent)
            target.append(text)
            path = (*parent, len(target) - 1)
        elif kind == "job-name":
            old = draw(st.sampled_from(sorted(data["jobs"])))
            assume(text not in data["jobs"])
            data["jobs"] = {(text if k == old else k): v for k, v in data["jobs"].items()}
            fb = data.get("failover_backup")
            if isinstance(fb, dict) and fb.get("job") == old:
                fb["job"] = text  # the reference moves with the name, as an operator would edit it
            path = ("jobs", text)
        else:
            where = draw(st.sampled_from(list(_mappings(data))))
            target = _get(data, where)
            assume(text not in target)
            target[text] = "x"
            path = (*where, text)
        done.append(Mutation(kind, path))
    return data, done


# -- what "names the field" means ---------------------------------------------------------------------

# Fields whose value other rules read: a change there may be reported on the field that reads it.
_READERS: dict[str, tuple[str, ...]] = {
    # JOB-2 / WSB-2 on the jobs that include or target them; JOB-1 on a scripts_dir on such a volume
    "cluster.switchover_volumes": ("jobs", "scripts_dir"),
    "nodes": ("jobs",),  # {node} in targets expands to the node's name (WSB-3, QUOTE per node)
    "connection.codepage": ("jobs", "scripts_dir"),  # QUOTE: a value outside the new code page
    "scheduler": ("failover_backup", "jobs"),
}


def _within(a: str, b: str) -> bool:
    """``a`` is ``b`` or a field inside it (``jobs.x.include[0]`` is within ``jobs.x``)."""
    return a == b or (a.startswith(b) and a[len(b)] in ".[")


def names_a_changed_field(reported: str | None, changes: list[Mutation]) -> bool:
    """Does ``reported`` (a PlanError's or finding's field) name one of the changed fields, a field
    inside it, the object or list that holds it (at most two levels up: ``jobs.x`` for
    ``jobs.x.include[0]``, never the bare ``jobs``), or a field that reads its value?"""
    if not reported or reported == "(top)":
        return False
    for m in changes:
        changed = m.field
        if _within(reported, changed):
            return True
        # the object or list holding the changed field: ``reported`` is a prefix of its path
        up = next((len(m.path) - k for k in range(len(m.path)) if field_name(m.path[:k]) == reported), None)
        top_ok = m.kind in ("job-name", "unknown-key") or changed.startswith("nodes")
        if up is not None and up <= 2 and (len(m.path) - up >= 2 or top_ok):
            return True
        for source, readers in _READERS.items():
            if _within(changed, source) and any(_within(reported, r) for r in readers):
                return True
    return False


# -- the accepted side: every artifact is safe ------------------------------------------------------------

_FIXED = {
    "@echo off",
    "setlocal",
    "endlocal",
    "set RC=%ERRORLEVEL%",
    "exit /b %RC%",
    "exit /b 303",
    ":not_attached",
    "rem >>> clpbackup",
    "rem <<< clpbackup",
    # FO-2 on AT nodes: no second one-shot while ours is pending
    'if not "%RC%" == "0" goto schedule',
    ":schedule",
    "exit /b 0",
    # DRILL-1: the canary's token (three %RANDOM% values)
    "set CANARY=%RANDOM%%RANDOM%%RANDOM%",
    # ALERT-1: a run that exited 0 raises nothing
    'if "%RC%" == "0" exit /b 0',
    # DRILL-2: the weekly drill's variables and its :version subroutine (no plan value in them)
    "set VERSION=",
    "set BEST=",
    "set WBRC=%ERRORLEVEL%",
    "set RRC=%ERRORLEVEL%",
    'if not "%WBRC%" == "0" goto versions_failed',
    "set GOT=",
    "set MATCH=",
    'set "GOT=%GOT:"=%"',
    ":version",
    'set "LINE=%~1"',
    'set "TAIL=%LINE:~-16%"',
    'set "SHAPE=%TAIL:~2,1%%TAIL:~5,1%%TAIL:~10,1%%TAIL:~13,1%"',
    'if not "%SHAPE%"=="//-:" goto :eof',
    'set "KEY=%TAIL:~6,4%%TAIL:~0,2%%TAIL:~3,2%%TAIL:~11,2%%TAIL:~14,2%"',
    'if not "K%KEY%" GTR "K%BEST%" goto :eof',
    'set "BEST=%KEY%"',
    'set "VERSION=%TAIL%"',
    "goto :eof",
}
# DRILL-2: labels, the checks of the drill's variables, its exit codes
_DRILL_FORMS = [
    re.compile(r":(no_version|versions_failed|no_canary|not_recorded|failed)"),
    re.compile(r"if not defined (VERSION|GOT|MATCH) goto (no_version|no_canary|not_recorded)"),
    re.compile(r"set RC=[234]"),
]
_NAME = r"[A-Za-z0-9_.-]+"
_JOB = r"[A-Za-z0-9_-]+"
_QUOTED = '"([^"]*)"'
_PATH_FORMS = [
    re.compile(rf"if not exist {_QUOTED} mkdir {_QUOTED}"),
    re.compile(r'if not exist "([A-Z]:\\)" goto not_attached'),
    re.compile(
        rf"echo JOB-3: [A-Z:, ]+ not attached to this node; the job runs here after a failover > {_QUOTED}"
    ),
    # NT-2: ntbackup writes no console output; the job's log says where its report is
    re.compile(
        rf"echo ntbackup writes no console output; its report is backupNN\.log in [^\"<>|&%]+ > {_QUOTED}"
    ),
    re.compile(rf'if "%CLP_EVENT%" == "FAILOVER" start "" cmd /c {_QUOTED}'),
    re.compile(rf"call {_QUOTED}"),
    re.compile(rf"at > {_QUOTED} 2>&1"),
    re.compile(rf'find /i "clpbackup-[A-Za-z0-9._-]+-once" {_QUOTED} > nul'),
    re.compile(
        rf"echo FO-2: clpbackup-[A-Za-z0-9._-]+-once is already pending; no second one-shot > {_QUOTED}"
    ),
    # DRILL-1: the canary's folder (only where the backed-up item exists), the canary, its record
    re.compile(rf"if exist {_QUOTED} if not exist {_QUOTED} mkdir {_QUOTED}"),
    re.compile(rf"echo clpbackup-canary [A-Za-z0-9_-]+ %CANARY% %DATE% %TIME% > {_QUOTED}"),
    re.compile(rf"echo %CANARY% %DATE% %TIME% >> {_QUOTED}"),
    # DRILL-2: the weekly drill's scratch copy and its log lines (job and node names only)
    re.compile(rf"if exist {_QUOTED} type {_QUOTED} >> {_QUOTED}"),
    re.compile(rf"if exist {_QUOTED} del {_QUOTED}"),
    re.compile(rf"echo DRILL-2: weekly drill of {_JOB} on {_NAME} at %DATE% %TIME% > {_QUOTED}"),
    re.compile(rf"echo DRILL-2: newest version made by [A-Za-z0-9_.-]+: %VERSION% >> {_QUOTED}"),
    re.compile(
        rf"echo RS-1: [A-Z:, ]+ not attached to [A-Za-z0-9_.-]+ at %DATE% %TIME%; the node that has it "
        rf"drills [A-Za-z0-9_-]+ >> {_QUOTED}"
    ),
    re.compile(rf"for /f \"tokens=3\" %%T in \('type {_QUOTED}'\) do set \"GOT=%%T\""),
    re.compile(rf"for /f \"delims=\" %%L in \('type {_QUOTED}'\) do call :version \"%%L\""),
    re.compile(rf"for /f \"tokens=1\" %%T in \('type {_QUOTED}'\) do if \"%%T\"==\"%GOT%\" set MATCH=1"),
]
# DRILL-2: the weekly drill's verdict line
_VERDICT = re.compile(rf"echo (?P<json>\{{.*\}}) > {_QUOTED}")
#: the identifier the recovery line is checked with in place of the %VERSION% the script expands
_VERSION_SLOT = "01/01/1601-00:00"
# ALERT-1: the failure raised in CLUSTERPRO's alert log (where clplogcmd is on the Path) and in the
# Application event log; the ID and message are compared with what clpbackup.alerts builds for the
# file (expected_alerts, as tests/wine/judge.py does) and the log is checked apart (_alert_line_ok)
_ALERTS = [
    re.compile(
        r'for %%P in \(clplogcmd\.exe\) do if not "%%~\$PATH:P" == "" clplogcmd -m "(?P<msg>[^"]*)" '
        rf"-i (?P<id>10[1-4]) -l ERR >> {_QUOTED} 2>&1"
    ),
    re.compile(
        r'eventcreate /T ERROR /ID (?P<id>10[1-4]) /L APPLICATION /SO clpbackup /D "(?P<msg>[^"]*)" '
        rf">> {_QUOTED} 2>&1"
    ),
]
_PING = re.compile(r"ping -n \d+ 127\.0\.0\.1 > nul")
_REM_FORBIDDEN = set('%^!"<>|&')
_TOOLS = ("wbadmin ", "ntbackup ", "schtasks ", "at ", "start /wait rsm ", "powershell ")


_REDIRECT_TARGET = re.compile(r'(>>?[ \t]*)"([^"]*)"')


def grammar_view(text: str) -> str:
    """``text`` for tree-sitter-batch: spaces inside a quoted redirection target become ``_``.

    tree-sitter-batch 0.11 cannot parse ``echo x > "a b"`` (a quoted target with a space), which
    cmd.exe reads fine; clpbackup writes such lines when ``scripts_dir`` has a space. Only those
    spaces are replaced; the line checks below read the real text.
    """
    return _REDIRECT_TARGET.sub(lambda m: m.group(1) + '"' + m.group(2).replace(" ", "_") + '"', text)


def _safe_path(path: str) -> bool:
    return bool(path) and not (set(path) & CMD_PATH_FORBIDDEN) and all(c.isprintable() for c in path)


def expected_alerts(plan: Plan, node: str, f: ArtifactFile) -> set[tuple[int, str]]:
    """The (event ID, message) each ALERT-1 line of ``f`` must carry, as :mod:`clpbackup.alerts`
    builds them (as ``tests/wine/judge.py`` does): a job's backup script raises 101 (102 for the
    failover run's own script, FO-2), ``failover.bat`` raises 103 when it schedules a one-shot and
    none when it calls the job's script (that script raises its own), a weekly drill's script 104
    (DRILL-2). A new batch file that raises
    ALERT-1 adds its case here (any other file must raise none)."""
    n = plan.node(node)
    run = failover_run(plan, n)

    def raised(kind: alerts.AlertKind, job: str, log: str) -> set[tuple[int, str]]:
        return {(kind.event_id, alerts.message(kind, job, n.name, log))}

    if f.role == "backup-script" and f.job is not None:
        if run is not None and run.own_script and f.path == run.batch:
            return raised(alerts.FAILOVER_RUN_FAILED, f.job, render.log_path(plan, f.job))
        return raised(alerts.BACKUP_FAILED, f.job, render.log_path(plan, f.job))
    if f.role == "weekly-drill-script" and f.job is not None:  # DRILL-2: a failed weekly drill
        return raised(alerts.DRILL_FAILED, f.job, render.weekly_drill_log_path(plan, f.job))
    fb = plan.failover_backup
    if f.role == "failover-script" and run is not None and fb is not None and fb.at != "now":
        return raised(alerts.FAILOVER_NOT_SCHEDULED, run.job, render.log_path(plan, "failover"))
    return set()


def _alert_line_ok(m: re.Match[str], expected: set[tuple[int, str]], plan: Plan) -> bool:
    """An ALERT-1 line: exactly an ID and message :mod:`clpbackup.alerts` builds for its file (cmd.exe
    expands only %RC% in it: no other character it acts on), appended to the alerts log."""
    msg = m.group("msg")
    return (
        (int(m.group("id")), msg) in expected
        and not (set(msg.replace(alerts.RC, "")) & set('%^&|<>!"'))
        and all(c.isprintable() for c in msg)
        and _safe_path(m.group(3))
        and m.group(3) == render.alerts_log_path(plan)
    )


def expected_commands(plan: Plan, node: str) -> set[tuple[str, ...]]:
    """Every argv a batch file of ``node`` may run, as the platform module builds them."""
    n = plan.node(node)
    platform = get_platform(n.os)
    out: set[tuple[str, ...]] = set()
    for name, job in plan.jobs.items():
        selection = selection_path(plan, name) if platform.backup_tool == "ntbackup" else None
        out |= {c.argv for c in platform.backup_commands(name, job, node=n.name, selection=selection)}
        record = render.versions_record(plan, n, name)  # the second hop: versions recorded as SYSTEM
        if record is not None:
            out.add(record.argv)
    for name in weekly_drill_starts(plan):  # DRILL-2: what the weekly drill runs
        where = canary_path(plan, name)
        target = render.job_target(plan, name, n.name)
        if where is None or platform.backup_tool != "wbadmin":
            continue
        out.add(platform.get_versions(target, n.name).argv)
        out.add(
            platform.start_recovery(
                _VERSION_SLOT, "File", [where[0]], target=target, machine=n.name,
                recovery_target=render.drill_scratch(plan), overwrite="overwrite",
            ).argv
        )
    run = failover_run(plan, n)
    if run is not None:
        out |= {c.argv for c in run.commands}
        fb = plan.failover_backup
        assert fb is not None
        if fb.at != "now":
            out.add(once_schedule(plan, n, run.job, fb.at, batch=run.batch).argv)
    return out


def _argv_of_tool_line(line: str) -> tuple[tuple[str, ...], str | None]:
    """The argv cmd.exe + CommandLineToArgvW make of a tool line, and its log file."""
    start = line.startswith("start /wait ")
    body = line.removeprefix("start /wait ")
    red = split_redirection(body)
    command_line = batch_line_to_command_line(red.command)
    if red.target is not None:
        # ntbackup appends to the log that its note line started (NT-2: it writes nothing itself); the
        # weekly drill's recovery to the log its first line started (DRILL-2)
        appends = body.startswith(("ntbackup ", "wbadmin start recovery "))
        assert red.stderr_to_stdout and red.append == appends, line
    assert not start or red.target is None, line
    return tuple(command_line_to_argv(command_line)), red.target


def check_batch_file(plan: Plan, node: str, f: ArtifactFile, allowed: set[tuple[str, ...]]) -> int:
    """Assert everything the module docstring promises about one batch file; return its tool lines."""
    want = expected_alerts(plan, node, f)
    raised: list[tuple[int, int, str]] = []  # (form, ID, message) of each ALERT-1 line
    text = f.content.decode(f.encoding)  # strict: every byte is in the node's code page
    assert text.endswith("\r\n"), f.path
    lines = text[:-2].split("\r\n")
    assert all("\r" not in ln and "\n" not in ln for ln in lines), f"{f.path}: a bare line break"
    problems = batch_errors(grammar_view(text))
    assert problems == [], f"{f.path}: tree-sitter-batch: {[str(p) for p in problems]}"
    tools = 0
    for line in lines:
        assert all(c.isprintable() or c == "\t" for c in line), f"{f.path}: control character in {line!r}"
        if line in _FIXED or _PING.fullmatch(line) or re.fullmatch(r"goto \w+", line):
            continue
        if any(p.fullmatch(line) for p in _DRILL_FORMS):
            continue
        verdict = _VERDICT.fullmatch(line)
        if verdict is not None:
            text = verdict.group("json")
            rest = text
            for expanded in ("%DATE%", "%TIME%", "%VERSION%", "%WBRC%", "%RRC%"):
                rest = rest.replace(expanded, "")
            assert not set(rest) & set("%^&|<>!"), f"{f.path}: {line!r}"
            assert json.loads(text)["by"] == "weekly task" and _safe_path(verdict.group(2)), line
            continue
        line = line.replace("-version:%VERSION% ", f"-version:{_VERSION_SLOT} ")
        if line.startswith("rem "):
            assert not (set(line[4:]) & _REM_FORBIDDEN), f"{f.path}: {line!r}"
            continue
        which, alert = next(((i, m) for i, p in enumerate(_ALERTS) if (m := p.fullmatch(line))), (0, None))
        if alert is not None:
            assert _alert_line_ok(alert, want, plan), f"{f.path}: ALERT-1 line {line!r}, expected {want}"
            raised.append((which, int(alert.group("id")), alert.group("msg")))
            continue
        form = next((m for p in _PATH_FORMS if (m := p.fullmatch(line))), None)
        if form is not None:
            for path in form.groups():
                assert _safe_path(path), f"{f.path}: unsafe quoted path in {line!r}"
            continue
        assert line.startswith(_TOOLS), f"{f.path}: {line!r} is outside the batch-file subset"
        try:
            argv, log = _argv_of_tool_line(line)
        except BatchParseError as exc:  # an unescaped operator, a lone %, a ! reaching cmd.exe
            raise AssertionError(f"{f.path}: cmd.exe would misread {line!r}: {exc}") from None
        assert argv in allowed, f"{f.path}: {line!r} runs {argv}, which the plan does not ask for"
        if log is not None:
            assert _safe_path(log) and log.startswith(plan.scripts_dir + "\\logs\\"), line
        tools += 1
    # each expected failure is raised once in each log (clplogcmd, eventcreate), and nothing else
    every = sorted((which, *w) for w in want for which in range(len(_ALERTS)))
    assert sorted(raised) == every, (f.path, raised)
    return tools


def check_selection(plan: Plan, f: ArtifactFile) -> None:
    assert f.encoding == BKS_ENCODING and not f.content.startswith(b"\xff\xfe"), f.path
    text = f.content.decode("utf-16-le")
    job = plan.jobs[f.job or ""]
    want = [bks_line(i) for i in job.include]
    want += [f"{bks_line(e)} /exclude" for e in job.exclude]
    assert text == "".join(w + "\r\n" for w in want), f.path


def check_artifacts(plan: Plan, arts: dict[str, NodeArtifacts]) -> int:
    """Assert every artifact of every node is safe; return the number of tool lines checked."""
    assert set(arts) == {n.name for n in plan.nodes}
    tools = 0
    for node, art in arts.items():
        allowed = expected_commands(plan, node)
        for f in art.files:
            if f.role == "selection":
                check_selection(plan, f)
            else:
                tools += check_batch_file(plan, node, f, allowed)
        for s in art.schedules:
            assert tuple(command_line_to_argv(s.command_line)) == s.argv, s.command_line
            m = re.fullmatch(r'cmd /c "([^"]*)"', s.run)
            assert m and _safe_path(m.group(1)), s.run
            if s.delete_command_line:
                assert tuple(command_line_to_argv(s.delete_command_line)) == s.delete_argv
    return tools


# -- the property ------------------------------------------------------------------------------------------


def load(data: dict[str, Any], via_yaml: bool) -> tuple[Plan, str]:
    """Load the plan through from_yaml (when the YAML text gives the same data back) or from_dict."""
    if via_yaml:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        if yaml.safe_load(text) == data:
            return Plan.from_yaml(text), "yaml"
    return Plan.from_dict(data), "dict"


def error_findings(plan: Plan) -> list[Finding]:
    findings = plan.findings()
    assert all(isinstance(f, Finding) for f in findings)
    return [f for f in findings if f.severity == "error"]


def outcome(data: dict[str, Any], changes: list[Mutation], via_yaml: bool) -> str:
    """Run one mutated plan through load → check → render and assert the contract; return what
    happened (for the statistics)."""
    try:
        plan, door = load(data, via_yaml)
    except PlanError as exc:
        assert names_a_changed_field(exc.field, changes), (
            f"PlanError names {exc.field!r}, not a changed field {[m.field for m in changes]}: {exc}"
        )
        if via_yaml and exc.field not in (None, "(file)"):
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
            if yaml.safe_load(text) == data:
                assert exc.line is not None, f"no line number for {exc.field}: {exc}"
        unknown = any(m.kind == "unknown-key" and m.field == exc.field for m in changes)
        return "refused on load: an unknown key" if unknown else f"refused on load: {shape(exc.field or '')}"
    errors = error_findings(plan)
    if errors:
        named = [f for f in errors if names_a_changed_field(f.field, changes)]
        assert named, (
            f"the plan is refused but no error finding names a changed field "
            f"{[m.field for m in changes]}: {[(f.rule, f.field, f.message) for f in errors]}"
        )
        with pytest.raises(PlanError) as refused:
            plan.check()
        assert refused.value.findings
        return f"refused by rule {named[0].rule}: {shape(named[0].field or '')}"
    arts = render_plan(plan)
    assert check_artifacts(plan, arts) >= len(plan.jobs) * 2, "a backup script without its tool line"
    return f"accepted ({door})"


@fuzz(300)
@given(base=base_plans(), data=st.data(), via_yaml=st.booleans())
def test_random_plans_with_hostile_fields_are_refused_by_field_or_render_safely(
    base: dict[str, Any], data: st.DataObject, via_yaml: bool
) -> None:
    plan = Plan.from_dict(base)
    assert error_findings(plan) == [], "the generator made an invalid base plan"
    check_artifacts(plan, render_plan(plan))
    mutated, changes = data.draw(mutate(base), label="mutated plan")
    event(outcome(mutated, changes, via_yaml))


# Values that must be *accepted* and carried intact (a plan field may legitimately hold them):
# cmd operators, percent signs, carets, parentheses, quotes the tool allows, spaces, Japanese text.
_CARRIED = [
    "C:\\data & more",
    "C:\\R&D (old)",
    "C:\\100% done",
    "C:\\a^b=c;d",  # < > " | cannot be in a Windows name: refused at load (test_cli_errors)
    "C:\\%PATH%",
    "C:\\data\\",
    "C:\\a b\\",
    "C:\\業務 データ(1)",
]


@fuzz(40)
@given(base=base_plans(), value=st.sampled_from(_CARRIED), data=st.data())
def test_legitimate_metacharacters_in_job_values_are_carried_exactly(
    base: dict[str, Any], value: str, data: st.DataObject
) -> None:
    locals_ = [n for n, j in base["jobs"].items() if j["scope"] == "local"]
    assume(locals_ and all(n["os"] != "2008" for n in base["nodes"]))  # 2008 RTM: volumes only
    local = data.draw(st.sampled_from(locals_))
    base = copy.deepcopy(base)
    codepage = base["connection"].get("codepage", 437)
    assume(codepage == 932 or value.isascii())
    base["jobs"][local]["include"] = [value]
    plan = Plan.from_dict(base)
    assert error_findings(plan) == [], [str(f) for f in plan.findings()]
    arts = render_plan(plan)
    check_artifacts(plan, arts)
    for node, art in arts.items():
        n = plan.node(node)
        if n.os == "2003":
            assert value + "\r\n" in art.file("selection", local).text()
        else:
            script = art.file("backup-script", local).content.decode(f"cp{codepage}")
            line = next(ln for ln in script.split("\r\n") if ln.startswith("wbadmin "))
            argv, _ = _argv_of_tool_line(line)
            assert f"-include:{value}" in argv


@pytest.mark.parametrize("scripts_dir", ["E:\\clpbackup", "e:\\ops\\clp", "F:\\x"])
def test_scripts_dir_on_a_switchover_volume_is_refused_job1(scripts_dir: str) -> None:
    """Found by deploying fuzzed plans to the simulator: ``scripts_dir`` on the switchover partition
    rendered and validated, then deploy failed on the node without the partition. The rule check now
    refuses it (JOB-1: the other node would have no scripts), naming the field."""
    data: dict[str, Any] = {
        "cluster": {"name": "prod", "failover_group": "failover1", "switchover_volumes": ["E:", "F:"]},
        "nodes": [
            {"name": "node-a", "host": "192.0.2.11", "os": "2012", "home": True},
            {"name": "node-b", "host": "192.0.2.12", "os": "2012"},
        ],
        "scripts_dir": scripts_dir,
        "jobs": {"shared": {"scope": "switchover", "include": ["E:", "F:"], "target": "\\\\nas\\b\\{node}"}},
        "failover_backup": {"job": "shared"},
    }
    errors = error_findings(Plan.from_dict(data))
    assert [(f.rule, f.field) for f in errors] == [("JOB-1", "scripts_dir")]
    data["scripts_dir"] = "C:\\clpbackup"  # a local disk of both nodes
    assert error_findings(Plan.from_dict(data)) == []


# -- accepted hostile plans, deployed and run on the simulated nodes ----------------------------------------

# The values a batch file carries (the simulator cannot make an account or a start script of any
# text, so the user name and the start script stay out of this one).
_BATCH_VALUES = re.compile(
    r"^(scripts_dir|jobs\.[^.]+\.(include\[\d+\]|exclude\[\d+\]|target"
    r"|ntbackup\.(media_pool|tape|file|library|description)))$"
)


def _ran(node: Any, program: str) -> list[list[str]]:
    """The argv of every run of ``program`` on a simulated node, as the program received it."""
    from clpbackup.testing.model.node import redact

    return [
        command_line_to_argv(program + " " + redact(r.arguments).rstrip())
        for r in node.model.history
        if r.program.lower() == program
    ]


@fuzz(5)
@given(base=base_plans(), data=st.data())
def test_accepted_hostile_plans_deploy_and_run_as_rendered_on_the_simulator(
    base: dict[str, Any], data: st.DataObject
) -> None:
    """A third reader of the batch files: the simulator's cmd.exe model runs them (scheduled, as
    SYSTEM) and the tools must receive exactly the argv the platform module built."""
    mutated, _changes = data.draw(mutate(base, only=_BATCH_VALUES), label="mutated plan")
    try:
        plan = Plan.from_dict(mutated)
    except PlanError:
        assume(False)
        return
    assume(not error_findings(plan))
    # wbadmin takes * in file names, which the simulator's wbadmin does not model ("not simulated")
    assume(not any("*" in v or "?" in v for j in plan.jobs.values() for v in [*j.include, *j.exclude]))
    # No Windows file or folder name holds < > " | (Naming Files, Paths, and Namespaces): the plan
    # refuses such an include or exclude when it loads, so none reaches a node (this used to be an
    # assume: NT-2's live check refused the 2003 node at deploy)
    assert not any(set(v) & set('<>"|') for j in plan.jobs.values() for v in [*j.include, *j.exclude])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLPBACKUP_PASSWORD", "Fuzz-Sim-Passw0rd")
        deploy_and_run(plan)
    event("deployed and ran")


def deploy_and_run(plan: Plan) -> None:
    """Deploy ``plan`` to a simulated cluster, let a day pass, and check what the tools received."""
    from clpbackup import ClusterBackup
    from clpbackup.testing import SimulatedCluster
    from clpbackup.testing.model.node import redact
    from clpbackup.winquote import argument_string

    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        deployed = cb.deploy()
        assert deployed.ok, deployed
        for node in sim.nodes:
            for f in cb.artifacts[node.name].files:
                if f.role != "start-fragment" or not plan.cluster.start_script:
                    assert node.files.read_bytes(f.path) == f.content, f.path
        sim.advance(hours=25)  # every daily job runs once on both nodes, through the scheduler
        assert not sim.not_simulated, sim.not_simulated
        for node in sim.nodes:
            allowed = expected_commands(plan, node.name)
            # the model masks /P and /RP values in its history (SEC-1): compare masked with masked
            want = {tuple(command_line_to_argv(a[0] + " " + redact(argument_string(a[1:])))) for a in allowed}
            tools = {argv[0] for argv in allowed} & {"wbadmin", "ntbackup", "rsm"}
            runs = [tuple(a) for t in tools for a in _ran(node, t)]
            verbs = (("backup",), ("refresh",))
            started = [a for a in runs if a[1:2] in verbs or a[1:3] == ("start", "backup")]
            # the home node runs every job; the other runs its local jobs (switchover ones exit 303)
            if plan.node(node.name).home or any(j.scope == "local" for j in plan.jobs.values()):
                assert started, f"{node.name} ran no backup"
            for argv in started:
                assert argv in want, f"{node.name} ran {argv}"


def test_percent_signs_in_a_tape_library_reach_rsm_literally(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by the simulator fuzz: ``start /wait rsm refresh /LF"%%PATH%%"`` is read once by cmd.exe
    (``%%`` → ``%``) and START hands ``/LF"%PATH%"`` to rsm as it stands; the simulator's START used
    to expand it a second time. A library name with ``%``, ``&`` and ``^`` reaches rsm unchanged."""
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "Fuzz-Sim-Passw0rd")
    library = "%PATH% R&D ^lib"
    plan = Plan.from_dict(
        {
            "cluster": {"name": "prod", "failover_group": "failover1", "switchover_volumes": ["E:"]},
            "nodes": [
                {"name": "node-a", "host": "192.0.2.11", "os": "2003", "home": True},
                {"name": "node-b", "host": "192.0.2.12", "os": "2003"},
            ],
            "jobs": {
                "shared": {
                    "scope": "switchover", "include": ["E:\\"], "daily_at": "01:00",
                    "ntbackup": {"media_pool": "4mm DDS", "library": library, "refresh_wait": 0},
                },
            },
            "connection": {"username": "EXAMPLE\\backup-admin", "password": {"env": "CLPBACKUP_PASSWORD"}},
            "failover_backup": {"job": "shared"},
        }
    )
    assert error_findings(plan) == []
    deploy_and_run(plan)  # asserts every rsm/ntbackup run received the platform's argv


@pytest.mark.parametrize(
    "scripts_dir", ["C:\\dataC:", "C:\\clp*", "C:\\clp?", "C:\\a<b", "C:\\a>b", "C:\\a|b"]
)
def test_a_scripts_dir_windows_cannot_create_is_refused_at_load(scripts_dir: str) -> None:
    """Found by the simulator fuzz: ``scripts_dir: C:\\dataC:`` validated, then deploy failed writing
    the first file. A folder name cannot hold ``: * ? " < > |``; the plan says so, naming the field."""
    data: dict[str, Any] = {
        "cluster": {"name": "prod", "failover_group": "failover1", "switchover_volumes": ["E:"]},
        "nodes": [
            {"name": "node-a", "host": "192.0.2.11", "os": "2012", "home": True},
            {"name": "node-b", "host": "192.0.2.12", "os": "2012"},
        ],
        "scripts_dir": scripts_dir,
        "jobs": {"shared": {"scope": "switchover", "include": ["E:"], "target": "\\\\nas\\b\\{node}"}},
    }
    with pytest.raises(PlanError) as refused:
        Plan.from_dict(data)
    assert refused.value.field == "scripts_dir" and "cannot contain" in str(refused.value)


@fuzz(60)
@given(base=base_plans(), day=st.sampled_from(["MON", "SUN"]), start=st.integers(0, 95))
def test_random_plans_with_a_weekly_drill_render_safely(base: dict[str, Any], day: str, start: int) -> None:
    """DRILL-2: a plan with the weekly drill, at the first 15-minute slot from ``start`` that DRILL-2
    accepts, renders the weekly scripts within the same batch-file subset (their tool lines, the
    versions read inside for /f and the recovery, give back the platform's argv)."""
    assume(all(n["os"] != "2003" for n in base["nodes"]))
    for k in range(96):
        at = format_hhmm((start + k) % 96 * 15)
        plan = Plan.from_dict({**base, "drill": {"weekly": {"day": day, "at": at}}})
        if not error_findings(plan):
            break
    else:
        assume(False)
    arts = render_plan(plan)
    weekly = [f for art in arts.values() for f in art.files if f.role == "weekly-drill-script"]
    assert len(weekly) == 2 * len(weekly_drill_starts(plan))
    check_artifacts(plan, arts)
    event(f"{len(weekly_drill_starts(plan))} job(s) drilled weekly")
