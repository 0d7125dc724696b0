"""What a node's state means for the plan: reading, diffing and judging it. Pure.

The operations layer (:mod:`clpbackup.operations`) reads a node with one ``inspect`` pipeline
(built by :func:`build_inspect`), turns the answer into a :class:`NodeState` (:func:`read_state`)
and asks this module what to change (:func:`schedule_changes`, :func:`one_shot_commands`,
:func:`run_now_commands`) and how things stand (:func:`schedule_status`, :func:`run_result`,
:func:`drift`, :func:`restore_source`). No I/O here: every function is tested offline.

Ownership on the node (OWN-1, docs/design.md "The record on the node"): an entry is clpbackup's when
its record on the node lists it and the node agrees (same task name; same AT id with the same
command line, time and days; same file hash), or when it is exactly what the plan renders (adopted:
creating a second one would run the backup twice). Everything else is foreign: reported, never
touched — a task named like clpbackup's, an AT job that mentions the scripts folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from clpbackup import alerts, render
from clpbackup.artifacts import NodeArtifacts, ScheduleEntry
from clpbackup.commands import Command
from clpbackup.errors import ClpBackupError, ParseError, PlanError
from clpbackup.ownership import OwnerDecision
from clpbackup.parsers.at import AtJob, parse_at_list
from clpbackup.parsers.common import decode
from clpbackup.parsers.eventlog import LoggedEvent, parse_events
from clpbackup.parsers.ntbackup import NtbackupLog, parse_log
from clpbackup.parsers.schtasks import RUNNING_WORDS, ScheduledTask, parse_delete_output, parse_query_csv
from clpbackup.parsers.wbadmin import (
    BackupVersion,
    DrillLog,
    copied_percent,
    parse_backup_summary,
    parse_drill_log,
    parse_versions,
    reported_error,
)
from clpbackup.plan import WEEKDAYS, Node, Plan, format_hhmm, normalize_volume, parse_hhmm
from clpbackup.platforms import get_platform
from clpbackup.record import (
    Record,
    RecordedAt,
    RecordLine,
    at_line,
    parse_record,
    task_line,
)
from clpbackup.results import (
    Change,
    DrillVerdict,
    NodeEvent,
    Problem,
    RestoreSource,
    RunResult,
    ScheduleStatus,
    StatusResult,
)
from clpbackup.rules import scheduler_for
from clpbackup.transport.types import CommandResult, FileState, InspectRequest, InspectResult
from clpbackup.winquote import check_value

T = TypeVar("T")

# Windows "has not yet run" (SCHED_S_TASK_HAS_NOT_RUN, 0x41303) and "is running" (0x41301).
_NOT_YET_RUN = 0x41303
_RUNNING = 0x41301


def is_running(task: ScheduledTask) -> bool:
    """True when the task shows Running (its status, or 0x41301 as its last result)."""
    return task.state == "running" or task.last_result == _RUNNING


@dataclass
class NodeState:
    """A node's state as far as clpbackup cares, parsed from one inspect answer."""

    tasks: list[ScheduledTask] | None = None
    at_jobs: list[AtJob] | None = None
    versions: dict[str, list[BackupVersion] | None] = field(default_factory=dict)
    logs: dict[str, str | None] = field(default_factory=dict)
    clpstat_current: str | None = None
    tool_logs: list[NtbackupLog] | None = None
    """NTBackup's own logs of the SYSTEM account (2003; read with ``logs=True``), parsed."""
    folders: dict[str, bool] = field(default_factory=dict)
    """Per probed ``.bks`` item (its plan field): whether it is a folder on the node."""
    notes: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    #: per job, why its versions could not be read (``versions[job]`` is then ``None``); each text
    #: names the target and what to do
    version_errors: dict[str, str] = field(default_factory=dict)
    #: per job, versions not recorded yet (the second hop, :func:`reads_shares_directly`): the job
    #: has not run since deploy; ``versions[job]`` is ``None``
    version_pending: dict[str, str] = field(default_factory=dict)
    record: Record = field(default_factory=Record)
    """clpbackup's record on the node (OWN-1); ``present`` False when it has none."""
    record_sha256: str | None = None
    """SHA-256 of the record file as read (``None``: no record): a guard of the apply (LOCK-1)."""
    at_listing: str | None = None
    """The ``at`` listing exactly as read: a guard of the apply (LOCK-1)."""
    events: list[LoggedEvent] | None = None
    """The newest Application event log entries of source clpbackup (ALERT-1; read with
    ``events=True``), newest first; ``None`` when not read or not readable (then in ``errors``)."""
    drill_files: dict[str, str | None] = field(default_factory=dict)
    """DRILL-1: the drill results (always) and, for a drill, the canary records and drill logs read,
    by path (``None``: the file does not exist)."""

    def task(self, name: str) -> ScheduledTask | None:
        """The task called ``name`` (case-insensitive), or ``None``."""
        for t in self.tasks or []:
            if t.name.lower() == name.lower():
                return t
        return None


@dataclass(frozen=True)
class Probe(Generic[T]):
    """One command of the inspect pipeline, with the parser of its output and the slot it fills.

    ``kind`` is the tool (``schtasks``, ``at``, ``versions``) and ``job`` the job a per-job probe is
    for; :attr:`name` is the key of :attr:`NodeState.errors` when the probe's answer cannot be used.
    ``store`` puts the parsed value into its :class:`NodeState` slot. ``if_failed`` gives the value
    for a command that exits non-zero; without it the failure is kept as an error, not guessed.
    """

    kind: str
    command: Command
    parse: Callable[[str], T]
    store: Callable[[NodeState, T], None]
    job: str | None = None
    if_failed: Callable[[], T] | None = None
    #: the tool's output says what a non-zero exit means: ``parse`` reads it whatever the exit code
    reads_failures: bool = False

    @property
    def name(self) -> str:
        """``kind``, or ``kind:job`` for a per-job probe."""
        return f"{self.kind}:{self.job}" if self.job else self.kind

    def read(self, state: NodeState, result: CommandResult) -> None:
        """Fill this probe's slot of ``state`` from its command's ``result`` (or record why not)."""
        if result.rc != 0 and not self.reads_failures:
            if self.if_failed is None:
                state.errors[self.name] = (result.stderr or result.stdout).strip()
                return
            value = self.if_failed()
        else:
            try:
                value = self.parse(result.stdout)
            except ParseError as exc:
                state.errors[self.name] = str(exc)
                return
        self.store(state, value)


def _store_tasks(state: NodeState, tasks: list[ScheduledTask]) -> None:
    state.tasks = tasks


def _parse_at(text: str) -> tuple[list[AtJob], str]:
    # the listing's exact text is kept too: the apply checks it again under the lock (LOCK-1)
    return parse_at_list(text), text


def _store_at_jobs(state: NodeState, value: tuple[list[AtJob], str]) -> None:
    state.at_jobs, state.at_listing = value


def _store_events(state: NodeState, events: list[LoggedEvent]) -> None:
    state.events = events


def _versions_probe(plan: Plan, node: Node, command: Command, job: str) -> Probe[str]:
    def store(state: NodeState, text: str) -> None:
        _read_versions(state, plan, node, job, text, "")

    # wbadmin get versions exits non-zero both when the target holds no backup yet ("No backups
    # were found.": no versions) and when it cannot read it (ERROR - Access is denied.: unknown,
    # never "none"): the output tells which
    return Probe("versions", command, str, store, job=job, reads_failures=True)


@dataclass(frozen=True)
class RunMarker:
    """Where a run-now stood before it started: the task that runs the job and that task's last run.

    :func:`last_run_marker` makes it, :func:`run_result` compares against it: a run whose task shows
    the same last run (to the minute, as the scheduler lists it) has not ended yet.
    """

    task: str
    last_run: datetime | None = None

    def ran_since(self, task: ScheduledTask) -> bool:
        """True when ``task`` shows a different last run than this marker saw."""
        return _fmt(task.last_run) != _fmt(self.last_run)


def log_path(plan: Plan, job: str) -> str:
    """Where a job's batch file writes its tool output."""
    return render.log_path(plan, job)


def _target_for(plan: Plan, job: str, node: str) -> str | None:
    return render.job_target(plan, job, node)


def reads_shares_directly(plan: Plan, node: Node, *, delegated: bool = False) -> bool:
    """True when the node's WinRM session can read a network share itself.

    The second hop (docs/windows-facts.md): a session authenticated with NTLM, Kerberos without
    delegation, Basic or a certificate holds no credentials another machine accepts, so
    ``wbadmin get versions -backupTarget:\\\\server\\share`` answers "Access is denied." there.
    CredSSP delegates the user's credentials to the node, and so does Kerberos when the plan asks
    for it (``connection.delegate``) *and* the session's handshake really delegated the ticket
    (``delegated``, what :meth:`clpbackup.transport.base.Session.delegation` answered): then the
    direct read works. Otherwise the versions are those the job's own run (SYSTEM, the computer
    account on the network) recorded in :func:`clpbackup.render.versions_path`.
    """
    conn = plan.connection_for(node)
    if conn.auth == "credssp":
        return True
    return delegated and conn.delegate and conn.auth in ("kerberos", "negotiate")


def wants_delegation(plan: Plan, node: Node) -> bool:
    """The plan asks for Kerberos delegation to ``node`` (``connection.delegate``): whether the
    session got it decides how share versions are read (:func:`reads_shares_directly`)."""
    conn = plan.connection_for(node)
    return conn.delegate and conn.auth in ("kerberos", "negotiate")


#: Why share versions come from the recorded file although the plan asked for delegation.
NOT_DELEGATED_NOTE = (
    "connection.delegate is true but the session holds no delegated Kerberos ticket, so share versions "
    "are read from what the jobs' runs recorded: get a forwardable ticket (kinit -f; klist -f shows "
    "flag F) and have the node trusted for delegation in the domain (its service ticket then shows "
    "flag O, OK-AS-DELEGATE; docs/security.md)"
)


def _recorded_versions(plan: Plan, node: Node, delegated: bool = False) -> list[str]:
    """The jobs whose share versions are read from what their last run recorded."""
    if reads_shares_directly(plan, node, delegated=delegated):
        return []
    return [job for job in plan.jobs if render.versions_record(plan, node, job) is not None]


def _selection_items(plan: Plan) -> list[tuple[str, str]]:
    """``(plan field, path)`` of every NTBackup include/exclude that names a path on a drive (not
    the drive itself, not the system state). UNC lines are not probed: from a WinRM session the
    share would answer "Access is denied" (the second hop)."""
    out: list[tuple[str, str]] = []
    for name, job in plan.jobs.items():
        if job.ntbackup is None:
            continue
        for kind, items in (("include", job.include), ("exclude", job.exclude)):
            for i, item in enumerate(items):
                line = render.bks_line(item)
                if line == "SystemState" or (len(line) == 3 and line[1:] == ":\\") or line[1:2] != ":":
                    continue
                out.append((f"jobs.{name}.{kind}[{i}]", item))
    return out


def _folder_probe(path: str, os: str, fld: str) -> Probe[bool]:
    """``cmd /c if exist "<path>\\" echo folder``: true for a folder only (read-only)."""
    check_value(path, field=fld)
    if '"' in path or "%" in path:
        raise PlanError(f"{path!r} contains a double quote or %", field=fld,
                        hint="NTBackup selections cannot carry these characters")
    probe = f'if exist "{path}\\" echo folder'
    command = Command(("cmd", "/c", "if", "exist", path + "\\", "echo", "folder"), os, field=fld,
                      raw_tail="/c " + probe)

    def store(state: NodeState, is_folder: bool) -> None:
        state.folders[fld] = is_folder

    return Probe("folder", command, lambda out: "folder" in out, store, job=fld, if_failed=lambda: False)


def selection_problems(plan: Plan, node: Node, state: NodeState, result: InspectResult) -> list[str]:
    """``.bks`` lines the node contradicts (deploy refuses them): an item written as a folder
    (trailing ``\\``) that is not one, an item written without it that is a folder (NTBackup would
    take it as a file name and back up every file of that name in the subtree), and an include
    that exists as neither (an exclusion that names nothing is harmless). Paths on a volume the
    node does not have (the switchover partition on the standby) are not judged there. Each entry
    names the job's field and the path."""
    out: list[str] = []
    facts = result.facts
    for fld, item in _selection_items(plan):
        if fld not in state.folders:
            continue
        vol = facts.volume(item[:2]) if facts is not None and item[1:2] == ":" else None
        if item[1:2] == ":" and (vol is None or not vol.present):
            continue
        base = item.rstrip("\\")
        have = result.files.get(base)
        is_file = have is not None and have.sha256 is not None
        is_folder = state.folders[fld]
        include = ".include[" in fld
        if item.endswith("\\") and not is_folder and (include or is_file):
            what = "is a file" if is_file else "does not exist"
            fix = f"write it as {base!r} (a file line has no trailing backslash)" if is_file else (
                "create it, or correct the path")
            out.append(f"{fld}: {item!r} is written as a folder but {what} on {node.name}: {fix}")
        elif not item.endswith("\\") and is_folder:
            out.append(
                f"{fld}: {item!r} is a folder on {node.name}: write it as {base + chr(92)!r}; a .bks "
                "line without the trailing backslash names a file, and NTBackup would back up every "
                "file of that name in the subtree instead"
            )
        elif include and not item.endswith("\\") and not is_file:
            out.append(f"{fld}: {item!r} exists neither as a folder nor as a file on {node.name}")
    return out


def canary_paths(plan: Plan) -> list[str]:
    """The canary file of every job that has one (DRILL-1, :func:`clpbackup.render.canary_path`)."""
    out: list[str] = []
    for job in plan.jobs:
        where = render.canary_path(plan, job)
        if where is not None and where[0] not in out:
            out.append(where[0])
    return out


def build_inspect(
    plan: Plan,
    node: Node,
    art: NodeArtifacts,
    *,
    logs: bool = False,
    versions: bool = False,
    selections: bool = False,
    delegated: bool = False,
    events: bool = False,
    drill: bool = False,
) -> tuple[InspectRequest, list[Probe[Any]]]:
    """The one read pipeline for a node, and the probe (command, parser, slot) of each command.

    The request's commands are the probes' commands, in order: adding a read is adding a probe.
    ``events`` (status) adds the read-back of the newest clpbackup entries of the Application event
    log (ALERT-1, :func:`clpbackup.alerts.events_command`).
    ``selections`` (deploy) adds what :func:`selection_problems` needs: for each NTBackup
    include/exclude path, whether it is a folder (``if exist "<path>\\"``) and a file (its hash).
    ``delegated``: the session holds a delegated Kerberos ticket (:func:`reads_shares_directly`).
    """
    platform = get_platform(node.os)
    probes: list[Probe[Any]] = [Probe("schtasks", platform.schtasks_query(), parse_query_csv, _store_tasks)]
    if scheduler_for(plan, node) == "at":
        probes.append(Probe("at", platform.at_query(), _parse_at, _store_at_jobs))
    recorded = _recorded_versions(plan, node, delegated) if versions else []
    if versions and platform.backup_tool == "wbadmin":
        for job, spec in plan.jobs.items():
            target = _target_for(plan, job, node.name)
            if spec.ntbackup is None and target and job not in recorded:
                command = platform.get_versions(target, node.name, field=f"jobs.{job}.target")
                probes.append(_versions_probe(plan, node, command, job))
    start_script = plan.cluster.start_script
    read_paths: list[str] = [start_script] if start_script else []
    read_paths.append(render.record_path(plan))
    # DRILL-1: uninstall deletes a canary only when it is still clpbackup's (its first word);
    # status shows each job's last drill (small files, no extra request)
    read_paths += canary_paths(plan)
    read_paths += [render.drill_result_path(plan, j) for j in plan.jobs]
    if drill:
        read_paths += drill_paths(plan)
    if logs:
        read_paths += [log_path(plan, j) for j in plan.jobs]
        read_paths += list(platform.tool_logs)  # NTBackup's verdict is its own log (NT-2)
    # the second hop: share versions come from the file the job's own run wrote (no extra request)
    read_paths += [render.versions_path(plan, j) for j in recorded]
    hash_paths = [f.path for f in art.files if not (f.role == "start-fragment" and start_script)]
    # OWN-1: files the plan no longer renders (a job taken out, a weekly drill switched off, the
    # script a drill that did not end left) are hashed too: the inspect hashes every file the record
    # lists (``record_path``), in the same pipeline
    if events:
        probes.append(Probe("events", alerts.events_command(node.os), parse_events, _store_events))
    if selections and platform.backup_tool == "ntbackup":
        for fld, path in _selection_items(plan):
            probes.append(_folder_probe(path.rstrip("\\"), node.os, fld))
            hash_paths.append(path.rstrip("\\"))
    request = InspectRequest(
        hash_paths=hash_paths,
        read_paths=read_paths,
        commands=[p.command for p in probes],
        probe_volumes=list(plan.cluster.switchover_volumes),
        scripts_dir=plan.scripts_dir,
        clpstat=plan.cluster.clpstat,
        record_path=render.record_path(plan),
    )
    return request, probes


def _clpstat_current(text: str, group: str) -> str | None:
    from clpbackup.parsers.clpstat import group_owner

    try:
        current: str | None = group_owner(text, group)
    except ParseError:
        return None
    return current


def read_state(
    plan: Plan, node: Node, probes: Sequence[Probe[Any]], result: InspectResult, *, delegated: bool = False
) -> NodeState:
    """Parse the inspect answer. A listing that cannot be read is kept as an error, not guessed.
    ``delegated`` must be what :func:`build_inspect` was given."""
    state = NodeState()
    recorded = _recorded_versions(plan, node, delegated)
    codepage = plan.codepage_for(node)
    # the transport answers every command of the request (it refuses an answer that does not)
    for probe, res in zip(probes, result.commands, strict=True):
        probe.read(state, res)
    for job in recorded:
        path = render.versions_path(plan, job)
        f = result.files.get(path)
        if f is None or f.content is None:
            state.versions[job] = None
            script = result.files.get(render.job_script_path(plan, job))
            if script is not None and script.sha256 is None:
                continue  # not deployed: the missing script is the problem to report (JOB-1)
            state.version_pending[job] = (
                f"versions of {job} on {_target_for(plan, job, node.name)} not recorded yet: "
                f"each run of the job records them in {path} (a WinRM session cannot read the "
                "share: the second hop); they appear after its next run on this node"
            )
            continue
        _read_versions(state, plan, node, job, decode(f.content, codepage), "", recorded=path)
    for job in plan.jobs:
        f = result.files.get(log_path(plan, job))
        if f is not None and f.content is not None:
            state.logs[job] = decode(f.content, codepage)
        elif f is not None:
            state.logs[job] = None
    for path in [render.drill_result_path(plan, j) for j in plan.jobs] + drill_paths(plan):
        f = result.files.get(path)
        if f is not None:
            state.drill_files[path] = decode(f.content, codepage) if f.content is not None else None
    rec = result.files.get(render.record_path(plan))
    if rec is not None and rec.sha256 is not None:
        state.record_sha256 = rec.sha256
        try:
            state.record = parse_record(rec.content, render.record_path(plan))
        except ParseError as exc:
            state.errors["record"] = str(exc)
            state.record = Record(present=True)
    tool_logs = get_platform(node.os).tool_logs
    if tool_logs and any(p in result.files for p in tool_logs):
        state.tool_logs = []
        for path in tool_logs:
            f = result.files.get(path)
            if f is None or f.content is None:
                continue
            try:
                state.tool_logs.append(parse_log(f.content))
            except ParseError as exc:
                state.notes.append(f"{path} is not an NTBackup log clpbackup can read: {exc}")
    facts = result.facts
    if facts is not None and facts.clpstat:
        state.clpstat_current = _clpstat_current(facts.clpstat, plan.cluster.failover_group)
    return state


def _read_versions(
    state: NodeState, plan: Plan, node: Node, job: str, text: str, stderr: str, *, recorded: str | None = None
) -> None:
    """``wbadmin get versions`` output into ``state.versions[job]``; a refusal is kept as the reason
    the versions are unknown, never read as "no backup" (it used to be, silently)."""
    target = _target_for(plan, job, node.name)
    try:
        state.versions[job] = parse_versions(text)
        return
    except ParseError as exc:
        why = reported_error(text) or str(exc)
    state.versions[job] = None
    if stderr.strip():
        why += " " + stderr.strip()
    if recorded:
        host = node.name.upper()
        todo = (
            f"the job runs as SYSTEM, which reaches {target} as the computer account {host}$: "
            f"give that account access to the share (its backups need it too), then look at {recorded} "
            "after the next run"
        )
        source = f"run as SYSTEM by the job's last run, recorded in {recorded}"
    elif render.is_share(target) and plan.connection_for(node).auth != "credssp":
        # Kerberos delegation: the session held the user's ticket (it was checked), yet the share
        # refused; the node gets a cifs/ ticket for the file server with it, as the user.
        server = target.lstrip("\\").split("\\", 1)[0] if target else "<server>"
        todo = (
            f"the node asks the domain for a ticket to cifs/{server} with your delegated ticket: the "
            f"file server needs that SPN (setspn -L on its account), and the share must grant your "
            "account; or set connection.delegate: false, and clpbackup reads what the job's own runs "
            "record instead"
        )
        source = "over WinRM with your delegated Kerberos ticket (connection.delegate)"
    elif render.is_share(target):
        todo = (
            "the WinRM session must carry delegated credentials to read a share (CredSSP enabled on "
            "the node: Enable-WSManCredSSP -Role Server), or use another connection.auth, and "
            "clpbackup reads what the job's own runs record instead"
        )
        source = "over WinRM with delegated credentials (connection.auth: credssp)"
    else:
        todo = f"check the target {target} on {node.name}"
        source = "over WinRM"
    state.version_errors[job] = (
        f"wbadmin get versions of {job}'s target {target} ({source}) failed: {why}; {todo}"
    )


# -- comparing schedules -------------------------------------------------------------------------


def _norm_cmd(text: str | None) -> str:
    return " ".join((text or "").replace('"', " ").lower().split())


def _is_at_task(name: str) -> bool:
    # AT jobs show in the schtasks listing as At<N>; they are judged from the at listing
    return name.lower().startswith("at") and name[2:].isdigit()


def _once_names(plan: Plan) -> dict[str, str]:
    """The exact one-shot task names the plan renders (``clpbackup-<cluster>-<job>-once``) → job."""
    return {render.task_name(plan, job, once=True).lower(): job for job in plan.jobs}


def _drill_names(plan: Plan) -> dict[str, str]:
    """The exact drill task names (``clpbackup-<cluster>-<job>-drill``) → job (DRILL-1)."""
    return {render.drill_task_name(plan, job).lower(): job for job in plan.jobs}


def _short(task: ScheduledTask) -> str:
    return task.name.rsplit("\\", 1)[-1]


#: Verdict prefix of a one-shot that will never run (status reports it as an FO-2 problem).
PASSED_ONE_SHOT = "FO-2: one-shot not run"


def recorded_at_agrees(rec: RecordedAt, job: AtJob) -> bool:
    """The record and the node agree on an AT job: same id, command line, time and days."""
    if rec.id != job.job_id or rec.at != job.time or _norm_cmd(rec.run) != _norm_cmd(job.command):
        return False
    if rec.recurring:
        return job.recurring and set(rec.days) == set(job.days)
    return not job.recurring


@dataclass
class Ownership:
    """Who owns what on a node, for the plan (OWN-1).

    ``tasks``/``at`` map each planned entry (by its index in ``art.schedules``) to the node's entry
    that is clpbackup's for it (recorded and agreeing, or adopted as an exact match); ``stale_*``
    are clpbackup's (recorded, agreeing) entries the plan no longer has; ``conflicts`` are foreign
    tasks with a name the plan needs; ``foreign_*`` everything else on the node that is not
    clpbackup's. One-shots are the entries with the exact one-shot name (schtasks) or the exact
    one-shot definition (AT) the plan renders. ``drill_tasks`` are the restore drill's one-shot
    tasks the record lists (DRILL-1: a drill that did not end left them; the next drill or uninstall
    removes them, deploy leaves them alone as they may still run).
    """

    tasks: dict[int, ScheduledTask] = field(default_factory=dict)
    adopted: set[str] = field(default_factory=set)
    at: dict[int, AtJob] = field(default_factory=dict)
    stale_tasks: list[ScheduledTask] = field(default_factory=list)
    stale_at: list[AtJob] = field(default_factory=list)
    conflicts: list[ScheduledTask] = field(default_factory=list)
    once_tasks: list[tuple[ScheduledTask, str]] = field(default_factory=list)
    once_at: list[tuple[AtJob, str]] = field(default_factory=list)
    drill_tasks: list[tuple[ScheduledTask, str]] = field(default_factory=list)
    foreign_tasks: list[ScheduledTask] = field(default_factory=list)
    foreign_at: list[AtJob] = field(default_factory=list)
    duplicate_at: list[tuple[AtJob, int]] = field(default_factory=list)


def ownership(
    plan: Plan, node: Node, art: NodeArtifacts, state: NodeState, *, adopt: bool = False
) -> Ownership:
    """Sort the node's scheduled entries into clpbackup's (recorded and agreeing, or exactly what
    the plan renders), stale (recorded, no longer planned), one-shots and foreign (OWN-1).

    ``adopt`` also takes over a task with a planned name whose definition differs and that the
    record does not list (the upgrade from a clpbackup without a record; never the default).
    """
    own = Ownership()
    rec = state.record
    planned_names = {
        e.name.lower(): i for i, e in enumerate(art.schedules) if e.scheduler == "schtasks"
    }
    once = _once_names(plan)
    drills = _drill_names(plan)
    for task in state.tasks or []:
        short = _short(task)
        low = short.lower()
        if "\\" in task.name.strip("\\") or _is_at_task(short):
            if "\\" in task.name.strip("\\"):
                own.foreign_tasks.append(task)
            continue
        recorded = rec.task(short) is not None
        if low in planned_names:
            i = planned_names[low]
            exact = _task_matches(task, art.schedules[i]) is None
            if recorded or exact or adopt:
                own.tasks[i] = task
                if not recorded:
                    own.adopted.add(short)
            else:
                own.conflicts.append(task)
        elif low in once:
            own.once_tasks.append((task, once[low]))
        elif low in drills and recorded:
            own.drill_tasks.append((task, drills[low]))
        elif recorded:
            own.stale_tasks.append(task)
        else:
            own.foreign_tasks.append(task)
    jobs = list(state.at_jobs or [])
    taken: set[int] = set()
    at_entries = [(i, e) for i, e in enumerate(art.schedules) if e.scheduler == "at"]
    recorded_ids = {r.id for j in jobs for r in rec.at_jobs if recorded_at_agrees(r, j)}
    # recorded and agreeing first, then exact matches (adopted)
    for pass_recorded in (True, False):
        for i, entry in at_entries:
            if i in own.at:
                continue
            for j in jobs:
                if j.job_id in taken or not _at_matches(j, entry):
                    continue
                if (j.job_id in recorded_ids) != pass_recorded:
                    continue
                own.at[i] = j
                taken.add(j.job_id)
                break
    fb_once = _planned_at_once(plan, node)
    for j in jobs:
        if j.job_id in taken:
            continue
        if j.job_id in recorded_ids:
            same = [i for i, e in at_entries if _at_matches(j, e)]
            if same:
                own.duplicate_at.append((j, same[0]))
            own.stale_at.append(j)
        elif fb_once is not None and _at_matches(j, fb_once[1]):
            own.once_at.append((j, fb_once[0]))
        else:
            own.foreign_at.append(j)
    return own


def _planned_at_once(plan: Plan, node: Node) -> tuple[str, ScheduleEntry] | None:
    """The AT one-shot that failover.bat creates (FO-2), when the plan has one (job, entry)."""
    fb = plan.failover_backup
    if fb is None or fb.at == "now" or scheduler_for(plan, node) != "at":
        return None
    run = render.failover_run(plan, node)
    batch = run.batch if run is not None else render.job_script_path(plan, fb.job)
    return fb.job, render.once_schedule(plan, node, fb.job, fb.at, batch=batch)


def _task_matches(task: ScheduledTask, entry: ScheduleEntry) -> str | None:
    """``None`` when the task is what ``entry`` describes, else what differs."""
    if _norm_cmd(task.task_to_run) != _norm_cmd(entry.run):
        return f"runs {task.task_to_run!r}, expected {entry.run!r}"
    start = task.start_time
    if start is None or start.strftime("%H:%M") != entry.at:
        shown = start.strftime("%H:%M") if start else "no start time"
        return f"starts at {shown}, expected {entry.at}"
    if task.kind not in (None, "other") and task.kind != entry.kind:
        return f"is a {task.kind} task, expected {entry.kind}"
    if entry.kind == "weekly":
        days = _weekdays(task)
        if days is not None and days != set(entry.days):
            return f"runs on {', '.join(sorted(days)) or 'no day'}, expected {', '.join(entry.days)}"
    user = (task.run_as_user or "").upper()
    if user and "SYSTEM" not in user and "S-1-5-18" not in user:
        return f"runs as {task.run_as_user}, expected SYSTEM (SEC-1)"
    return None


def _weekdays(task: ScheduledTask) -> set[str] | None:
    """The days of a weekly task as schtasks ``/D`` names (``{"SUN"}``), or ``None`` when the
    listing does not say them in a form known here: en-US lists ``MON, TUE`` (the 2003 and 2008 R2
    captures in tests/fixtures/schtasks); the ja-JP words are not verified, so a day is not compared
    there (the kind, time, command and account still are)."""
    trigger = task.triggers[0] if task.triggers else None
    if trigger is not None and trigger.days_of_week:
        return {d.upper()[:3] for d in trigger.days_of_week}
    words = [w.strip().upper() for w in (task.days or "").split(",")]
    if words and all(w in WEEKDAYS for w in words):
        return set(words)
    return None


def _at_matches(job: AtJob, entry: ScheduleEntry) -> bool:
    if _norm_cmd(job.command) != _norm_cmd(entry.run) or job.time != entry.at:
        return False
    if entry.kind == "daily":
        return job.recurring and set(job.days) == set(entry.days)
    return not job.recurring


@dataclass
class ScheduleDiff:
    """The schedule part of a deploy: the diff, the commands (deletions first) and the record lines
    of the entries (``ran:i``/``notran:i`` refer to ``commands``), plus the foreign tasks whose names
    the plan needs (deploy refuses the node: OWN-1)."""

    changes: list[Change]
    commands: list[Command]
    record: list[RecordLine]
    conflicts: list[str]
    #: task names (``At<N>`` for an AT job) whose change was held back because they run now (LIVE-1)
    held: list[str] = field(default_factory=list)


def schedule_changes(
    plan: Plan, node: Node, art: NodeArtifacts, state: NodeState, *, adopt: bool = False
) -> ScheduleDiff:
    """The schedule part of a deploy diff and the commands that make it so (deletions first).

    schtasks entries are compared by their definition (command, time, kind, user) and created with
    ``/F`` — only where the name is free or clpbackup's (OWN-1); AT jobs by command line, time and
    days, never added twice (IDEM-1). clpbackup's own entries (recorded, agreeing with the node) that
    the plan no longer has are removed; one-shot entries (failover, failback) are left to run;
    foreign entries are never touched. A task of clpbackup's that runs now is neither replaced nor
    deleted, and an AT job that runs now is not replaced (LIVE-1: ``held``).
    """
    platform = get_platform(node.os)
    changes: list[Change] = []
    deletes: list[tuple[Command, RecordLine]] = []
    creates: list[tuple[Command, RecordLine]] = []
    keep: list[RecordLine] = []
    expected = list(art.schedules)
    schtasks_entries = [(i, e) for i, e in enumerate(expected) if e.scheduler == "schtasks"]
    at_entries = [(i, e) for i, e in enumerate(expected) if e.scheduler == "at"]

    if state.tasks is None and (schtasks_entries or not at_entries):
        raise ClpBackupError(
            "cannot read the node's scheduled tasks: " + state.errors.get("schtasks", "no answer"),
            node=node.name,
            hint="check that schtasks.exe works for the connecting account",
        )
    if at_entries and state.at_jobs is None:
        raise ClpBackupError(
            "cannot read the node's AT jobs: " + state.errors.get("at", "no answer"),
            node=node.name,
            hint="SCH-4: AT needs the Schedule service running",
        )
    if "record" in state.errors:
        raise ClpBackupError(
            "OWN-1: clpbackup's record on the node cannot be read: " + state.errors["record"],
            node=node.name,
            hint=f"look at {render.record_path(plan)}; nothing was changed",
        )
    own = ownership(plan, node, art, state, adopt=adopt)
    conflicts: list[str] = []
    held: list[str] = []

    def running(name: str) -> bool:
        # LIVE-1: a task that runs now is neither replaced nor deleted under its run
        task = state.task(name)
        return task is not None and is_running(task)
    for task in own.conflicts:
        conflicts.append(
            f"the task {_short(task)} exists, runs {task.task_to_run!r}, is not in clpbackup's record "
            "and is not what the plan renders"
        )
    for i, entry in schtasks_entries:
        after = f"{entry.kind} {entry.at} {entry.run}"
        line = task_line(entry.name, entry.run, entry.at, entry.kind)
        mine = own.tasks.get(i)
        if mine is None:
            if any(_short(t).lower() == entry.name.lower() for t in own.conflicts):
                before = task_before(state, entry.name)
                changes.append(Change("schedule", entry.name, "conflict", before=before))
                continue
            changes.append(Change("schedule", entry.name, "create", after=after))
            creates.append((Command(entry.argv, node.os, field=f"jobs.{entry.job}"), line))
            continue
        why = _task_matches(mine, entry)
        if why is None:
            changes.append(
                Change("schedule", entry.name, "adopt" if _short(mine) in own.adopted else "unchanged")
            )
            keep.append(line)
        elif running(entry.name):
            changes.append(Change("schedule", entry.name, "held", before=why, after=held_text(entry.name)))
            held.append(entry.name)
            rt = state.record.task(entry.name)
            if rt is not None:
                keep.append(task_line(rt.name, rt.run, rt.at, rt.kind))
        else:
            changes.append(Change("schedule", entry.name, "update", before=why, after=after))
            creates.append((Command(entry.argv, node.os, field=f"jobs.{entry.job}"), line))
    for task in own.stale_tasks:
        short = _short(task)
        rt = state.record.task(short)
        assert rt is not None
        if running(short):
            changes.append(Change("schedule", short, "held", before=task.task_to_run, after=held_text(short)))
            held.append(short)
            keep.append(task_line(rt.name, rt.run, rt.at, rt.kind))
            continue
        changes.append(Change("schedule", short, "delete", before=task.task_to_run))
        deletes.append((platform.schtasks_delete(short), task_line(rt.name, rt.run, rt.at, rt.kind)))

    # the AT job that runs now stays, and so does the creation of its successor: two AT jobs of one
    # job would both run (IDEM-1); the next deploy after the run replaces it
    held_at = [j for j in own.stale_at if running(f"At{j.job_id}")]
    for i, entry in at_entries:
        label = f"AT {entry.at} {entry.run}"
        j = own.at.get(i)
        if j is not None:
            known = any(recorded_at_agrees(r, j) for r in state.record.at_jobs)
            changes.append(Change("schedule", label, "unchanged" if known else "adopt"))
            keep.append(at_line(j.job_id, j.command, j.time, entry.days))
        elif any(_same_batch(entry.run, h.command) for h in held_at):
            changes.append(Change("schedule", label, "held", after=held_text("the AT job it replaces")))
        else:
            changes.append(Change("schedule", label, "create", after=f"{entry.kind} {entry.at} {entry.run}"))
            creates.append(
                (
                    Command(
                        entry.argv, node.os, field=f"jobs.{entry.job}", raw_tail=" ".join(_at_tail(entry))
                    ),
                    at_line(None, entry.run, entry.at, entry.days),
                )
            )
    for j in own.stale_at:
        if j in held_at:
            name = f"At{j.job_id}"
            changes.append(
                Change("schedule", f"AT #{j.job_id} {j.time} {j.command}", "held", after=held_text(name))
            )
            held.append(name)
            keep.append(at_line(j.job_id, j.command, j.time, j.days))
            continue
        why = "a second copy of a planned AT job (IDEM-1)" if any(d is j for d, _ in own.duplicate_at) else (
            "not in the plan"
        )
        changes.append(
            Change(
                "schedule",
                f"AT #{j.job_id} {j.time} {j.command}",
                "delete",
                before=f"{j.schedule} {j.time} {j.command} ({why})",
            )
        )
        deletes.append((platform.at_delete(j.job_id), at_line(j.job_id, j.command, j.time, j.days)))

    commands: list[Command] = []
    record: list[RecordLine] = list(keep)
    for cmd, gone in deletes:
        record.append(RecordLine(gone.text, f"notran:{len(commands)}"))
        commands.append(cmd)
    for cmd, made in creates:
        record.append(RecordLine(made.text, f"ran:{len(commands)}"))
        commands.append(cmd)
    return ScheduleDiff(changes, commands, record, conflicts, held)


def held_text(task: str) -> str:
    """What a held schedule change shows in the diff and as its LIVE-1 problem."""
    return (
        f"LIVE-1: {task} is running now; its change was left for the next deploy "
        "(deploy again after the run ends)"
    )


_BATCH_IN = re.compile(r"[A-Za-z]:\\[^\"]*?\.(?:bat|cmd)", re.IGNORECASE)


def _same_batch(run: str, other: str | None) -> bool:
    """True when the command lines ``run`` and ``other`` run the same batch file."""
    return any(_runs_file(other, m.group(0)) for m in _BATCH_IN.finditer(run))


def task_before(state: NodeState, name: str) -> str | None:
    """What the node's task called ``name`` runs (for a diff)."""
    task = state.task(name)
    return task.task_to_run if task is not None else None


def _at_tail(entry: ScheduleEntry) -> list[str]:
    # The entry's command_line is "at <tail>"; at.exe reads its own command line, so the tail is
    # sent verbatim (raw) exactly as render built it.
    line = entry.command_line
    return [line.split(" ", 1)[1]] if " " in line else []


def _resembles(plan: Plan, name: str, run: str | None) -> bool:
    """A foreign entry worth showing: named like clpbackup's or mentioning the scripts folder (the
    node has many other tasks; these are the ones an operator could take for clpbackup's)."""
    folder = plan.scripts_dir.lower().rstrip("\\") + "\\"
    return name.lower().startswith("clpbackup-") or folder in (run or "").lower()


def schedule_status(
    plan: Plan, node: Node, art: NodeArtifacts, state: NodeState, owner: bool | None
) -> list[ScheduleStatus]:
    """Each expected schedule: matching / different / missing, its last run and a verdict; then
    clpbackup's one-shots, its ``stale`` entries (recorded, no longer planned: deploy removes them)
    and ``foreign`` entries that look like clpbackup's but are not (OWN-1: never touched).

    The switchover job failing on the node without the partition is "expected (JOB-3)", not a
    failure.
    """
    out: list[ScheduleStatus] = []
    own = ownership(plan, node, art, state)
    conflicts = {_short(t).lower() for t in own.conflicts}
    for i, entry in enumerate(art.schedules):
        job = plan.jobs[entry.job]
        if entry.scheduler == "schtasks":
            task = own.tasks.get(i)
            if task is None:
                if entry.name.lower() in conflicts:
                    out.append(
                        ScheduleStatus(
                            entry.name,
                            entry.job,
                            entry.kind,
                            "foreign",
                            "schtasks",
                            entry.at,
                            verdict="OWN-1: a task of this name exists and is not clpbackup's; "
                            "deploy refuses to replace it",
                        )
                    )
                    continue
                out.append(
                    ScheduleStatus(
                        entry.name,
                        entry.job,
                        entry.kind,
                        "missing",
                        "schtasks",
                        entry.at,
                        verdict="missing: run deploy",
                    )
                )
                continue
            why = _task_matches(task, entry)
            s = ScheduleStatus(
                entry.name,
                entry.job,
                entry.kind,
                "matching" if why is None else "different",
                "schtasks",
                entry.at,
                last_run=_fmt(task.last_run),
                last_result=task.last_result,
                next_run=_fmt(task.next_run),
                verdict=why or "",
            )
        else:
            label = f"AT {entry.at} {entry.job}"
            j = own.at.get(i)
            if j is None:
                out.append(
                    ScheduleStatus(
                        label, entry.job, entry.kind, "missing", "at", entry.at, verdict="missing: run deploy"
                    )
                )
                continue
            s = ScheduleStatus(label, entry.job, entry.kind, "matching", "at", entry.at)
            task = state.task(f"At{j.job_id}")
            if task is not None:
                s.last_run, s.last_result, s.next_run = (
                    _fmt(task.last_run),
                    task.last_result,
                    _fmt(task.next_run),
                )
            extra = [d for d, k in own.duplicate_at if k == i]
            if extra:
                s.verdict = f"{len(extra) + 1} identical AT jobs (IDEM-1): deploy removes the extras"
        if not s.verdict and entry.kind == "weekly":
            s.verdict = _weekly_drill_verdict(s.last_result)
        if not s.verdict:
            s.verdict = _run_verdict(s.last_result, job.scope, owner, state.logs.get(entry.job))
            if s.last_result == 0 and task is not None:
                why = tool_verdict(plan, state, entry.job, task.last_run)
                s.verdict = f"failed: {why}" if why else s.verdict
        out.append(s)
    for task, job_name in own.once_tasks:
        # clpbackup's own one-shot (FO-2 / FB-1 / run-now): reported with its job and outcome
        verdict = "one-shot backup (FO-2/FB-1): " + _once_verdict(plan, state, task, job_name, owner)
        if task.last_run is None and task.next_run is None and task.state != "running":
            # a one-shot whose start time passed before it was created (schtasks /SC ONCE /ST
            # without /SD is for today) never runs: Windows only warned when it was created
            start = task.start_time.strftime("%H:%M") if task.start_time else "its time"
            verdict = (
                f"{PASSED_ONE_SHOT}: its start ({start}) passed without a run, and it never will; "
                "schedule the backup again (failover_backup / failback_backup)"
            )
        out.append(
            ScheduleStatus(
                _short(task),
                job_name,
                "once",
                "one-shot",
                "schtasks",
                last_run=_fmt(task.last_run),
                last_result=task.last_result,
                next_run=_fmt(task.next_run),
                verdict=verdict,
            )
        )
    for j, job_name in own.once_at:
        out.append(
            ScheduleStatus(
                f"AT #{j.job_id} {j.time} {job_name}",
                job_name,
                "once",
                "one-shot",
                "at",
                j.time,
                verdict="one-shot backup (FO-2)",
            )
        )
    for task in own.stale_tasks:
        out.append(
            ScheduleStatus(
                _short(task),
                None,
                "daily",
                "stale",
                "schtasks",
                last_run=_fmt(task.last_run),
                last_result=task.last_result,
                verdict="clpbackup's, not in the plan: deploy removes it",
            )
        )
    duplicates = {d.job_id for d, _ in own.duplicate_at}
    for j in own.stale_at:
        if j.job_id in duplicates:
            continue  # told with the entry it duplicates
        out.append(
            ScheduleStatus(
                f"AT #{j.job_id} {j.time} {j.command}",
                None,
                "daily" if j.recurring else "once",
                "stale",
                "at",
                j.time,
                verdict="clpbackup's, not in the plan: deploy removes it",
            )
        )
    for task in own.foreign_tasks:
        if _resembles(plan, _short(task), task.task_to_run):
            out.append(
                ScheduleStatus(
                    _short(task),
                    None,
                    "other",
                    "foreign",
                    "schtasks",
                    last_run=_fmt(task.last_run),
                    last_result=task.last_result,
                    verdict="not clpbackup's (OWN-1: not in its record): never touched; "
                    f"runs {task.task_to_run}",
                )
            )
    for j in own.foreign_at:
        if _resembles(plan, "", j.command):
            out.append(
                ScheduleStatus(
                    f"AT #{j.job_id} {j.time} {j.command}",
                    None,
                    "daily" if j.recurring else "once",
                    "foreign",
                    "at",
                    j.time,
                    verdict="not clpbackup's (OWN-1: not in its record): never touched",
                )
            )
    return out


def _fmt(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M") if value else None


def _once_verdict(plan: Plan, state: NodeState, task: ScheduledTask, job: str, owner: bool | None) -> str:
    why = tool_verdict(plan, state, job, task.last_run) if task.last_result == 0 else None
    if why:
        return f"failed: {why}"
    return _run_verdict(task.last_result, plan.jobs[job].scope, owner, state.logs.get(job))


#: Verdict prefix of a weekly drill task whose last run failed (status reports it as a DRILL-2 problem).
FAILED_DRILL = "drill failed"


def _weekly_drill_verdict(last_result: int | None) -> str:
    """The weekly drill task's last run by its exit code (:data:`clpbackup.render.WEEKLY_DRILL_RC`)."""
    if last_result is None or last_result == _NOT_YET_RUN:
        return "weekly drill, not run yet"
    if last_result == _RUNNING:
        return "weekly drill running"
    if last_result == 0:
        return "weekly drill: last run passed (or left the drill to the partition's owner, RS-1)"
    why = {
        render.WEEKLY_DRILL_RC["no-version"]: "no version made by this node was found",
        render.WEEKLY_DRILL_RC["no-canary"]: "no canary came back from the newest version",
        render.WEEKLY_DRILL_RC["not-recorded"]: "the recovered canary holds a token no run recorded",
    }.get(last_result, f"exit code {last_result}")
    return f"{FAILED_DRILL} (DRILL-2): {why}; see the last drill below"


def _run_verdict(last_result: int | None, scope: str, owner: bool | None, log: str | None) -> str:
    if last_result is None or last_result == _NOT_YET_RUN:
        return "not run yet"
    if last_result == _RUNNING:
        return "running"
    if last_result == 0:
        return "last run succeeded"
    if scope == "switchover" and last_result == render.NOT_ATTACHED_RC:
        # the script found the partition missing when it ran: true whoever owns it now
        return "expected: partition not attached (JOB-3)"
    if scope == "switchover" and owner is False:
        return "expected: partition not attached (JOB-3)"
    detail = ""
    if log:
        try:
            summary = parse_backup_summary(log)
            if summary.errors:
                detail = ": " + summary.errors[0]
        except ParseError:
            pass
    return f"failed with {last_result}{detail}"


@dataclass(frozen=True)
class ToolRun:
    """One run of an NTBackup job as NTBackup's own log records it (node-local time)."""

    job: str
    started: datetime | None
    ok: bool
    detail: str = ""


def tool_runs(plan: Plan, state: NodeState, job: str) -> list[ToolRun]:
    """The runs of ``job`` in NTBackup's logs, oldest first.

    A log belongs to ``job`` when one of its backup sets carries the job's description (``/D``:
    ``ntbackup.description``, else the job name). A run is good when the whole log is
    (:attr:`~clpbackup.parsers.ntbackup.NtbackupLog.ok`: every set completed, no error line). A log
    without any set (nothing selected, the shadow copy failed) names no job: it shows up as the
    *absence* of a good run (:func:`tool_verdict`).
    """
    spec = plan.jobs[job]
    if spec.ntbackup is None or not state.tool_logs:
        return []
    key = spec.ntbackup.description or job
    runs: list[ToolRun] = []
    for log in state.tool_logs:
        sets = [x for x in log.backup_sets if x.description == key]
        if not sets:
            continue
        times = [x.started for x in sets if x.started is not None]
        ok = log.ok and all(x.finished for x in sets)
        detail = "" if ok else (log.errors[0] if log.errors else "a backup set did not complete")
        runs.append(ToolRun(job, min(times) if times else None, ok, detail))
    runs.sort(key=lambda r: r.started or datetime.min)
    return runs


def tool_verdict(plan: Plan, state: NodeState, job: str, since: datetime | None) -> str | None:
    """Why a run of ``job`` that the scheduler reports as exit code 0 failed after all, by
    NTBackup's own log (NT-2: its exit code is not trusted), or ``None`` when a good run of the job
    started at or after ``since`` (the task's last run, node-local) — or when there is nothing to
    judge by (not an NTBackup job, logs not read)."""
    if plan.jobs[job].ntbackup is None or state.tool_logs is None or since is None:
        return None
    start = since.replace(second=0, microsecond=0)
    recent = [r for r in tool_runs(plan, state, job) if r.started is not None and r.started >= start]
    if any(r.ok for r in recent):
        return None
    if recent:
        return f"exit code 0, but NTBackup's log says: {recent[-1].detail} (NT-2)"
    return (
        f"exit code 0, but NTBackup's log has no completed backup of {job} since "
        f"{_fmt(since)} (NT-2: nothing selected, or the run stopped before its first set)"
    )


def last_success(plan: Plan, state: NodeState, job: str) -> datetime | None:
    """When ``job`` last backed up successfully (node-local time), or ``None``.

    NTBackup has no version list like wbadmin's: its newest backup is the newest good run in
    NTBackup's own logs (:func:`tool_runs`) — whichever task started it (daily, ``At<id>``, the
    failover one-shot that AT deletes once it has run) and whatever its exit code said.
    """
    good = [r.started for r in tool_runs(plan, state, job) if r.ok and r.started is not None]
    return max(good) if good else None


def newest_versions(plan: Plan, node: Node, state: NodeState) -> dict[str, str | None]:
    """The newest backup per job: the wbadmin version identifier (WSB), or for NTBackup the last
    successful run (``YYYY-MM-DD HH:MM`` node-local)."""
    out: dict[str, str | None] = {}
    for job, versions in state.versions.items():
        out[job] = max(versions, key=lambda v: v.time_utc).version_id if versions else None
    for job, spec in plan.jobs.items():
        if spec.ntbackup is not None:
            out[job] = _fmt(last_success(plan, state, job))
    return out


def node_events(state: NodeState) -> list[NodeEvent] | None:
    """The clpbackup failures read back from the node's Application event log (ALERT-1), newest
    first, each with its failure kind; ``None`` when they could not be read."""
    if state.events is None:
        return None
    out: list[NodeEvent] = []
    for e in state.events:
        kind = alerts.kind_of(e.event_id)
        out.append(NodeEvent(e.time.strftime("%Y-%m-%d %H:%M:%S"), e.event_id, kind.name if kind else None,
                             e.entry_type, e.message))
    return out


def version_problems(node: Node, state: NodeState) -> list[Problem]:
    """WSB-3: each job whose backup versions could not be read on ``node`` (never shown as "no
    backup"): the text names the target and what to do."""
    return [Problem("WSB-3", text, node.name) for text in state.version_errors.values()]


def drift(plan: Plan, statuses: Mapping[str, StatusResult]) -> list[Problem]:
    """JOB-1 / SCH-1: what one node has and the other does not."""
    problems: list[Problem] = []
    if len(statuses) < 2:
        return problems
    (a, sa), (b, sb) = list(statuses.items())[:2]

    def deployed(s: StatusResult) -> dict[tuple[str, str], bool]:
        # the expected entries only (daily runs, weekly drills): a one-shot, stale or foreign entry
        # says nothing about JOB-1
        return {
            (x.job, x.kind): x.state == "matching"
            for x in s.schedules
            if x.job and x.kind != "once" and x.state in ("matching", "different", "missing", "foreign")
        }

    da, db = deployed(sa), deployed(sb)
    for key in sorted(set(da) | set(db)):
        if da.get(key, False) != db.get(key, False):
            have, lack = (a, b) if da.get(key) else (b, a)
            job, kind = key
            what = f"the weekly drill of job {job}" if kind == "weekly" else f"job {job}"
            problems.append(
                Problem("JOB-1", f"{what} is scheduled on {have} but not on {lack}: run deploy")
            )
    for path in sorted(set(sa.files) | set(sb.files)):
        if sa.files.get(path) != sb.files.get(path):
            problems.append(
                Problem(
                    "JOB-1",
                    f"{path} is {sa.files.get(path, 'absent')} on {a} "
                    f"and {sb.files.get(path, 'absent')} on {b}",
                )
            )
    return problems


# -- one-shot, run-now -------------------------------------------------------------------------------


def _daily_task_name(plan: Plan, node: Node, art: NodeArtifacts, state: NodeState, job: str) -> str | None:
    """The scheduler task that runs ``job``'s script: its schtasks task, or ``At<id>`` of its AT job."""
    for entry in art.schedules:
        if entry.job != job or entry.kind != "daily":
            continue
        if entry.scheduler == "schtasks":
            return entry.name if state.task(entry.name) is not None else None
        for j in state.at_jobs or []:
            if _at_matches(j, entry):
                return f"At{j.job_id}"
    return None


def one_shot_commands(
    plan: Plan, node: Node, art: NodeArtifacts, state: NodeState, job: str, at: str
) -> tuple[str, list[Command]]:
    """FO-2 / FB-1 on the owner: the commands that schedule (or start) one full run of ``job``.

    Idempotent: when the same one-shot already exists (or the run it starts is going on) nothing
    is added.
    """
    platform = get_platform(node.os)
    batch = _one_shot_batch(plan, node, job)
    if at == "now":
        once = render.once_schedule(plan, node, job, "00:00", batch=batch)
        task = state.task(once.name)
        if task is not None and task.state == "running":
            return f"already running ({once.name})", []
        create = platform.schtasks_once(once.name, "00:00", once.run, field="at")
        # A one-shot task for 00:00 without /SD is in the past: it only runs through /Run.
        return f"started now ({once.name})", [create, platform.schtasks_run(once.name, field="at")]
    entry = render.once_schedule(plan, node, job, at, batch=batch)
    if entry.scheduler == "schtasks":
        task = state.task(entry.name)
        if (
            task is not None
            and _task_matches(task, entry) is None
            and task.last_run is None
            and task.next_run is not None  # FO-2: a one-shot whose time passed never runs
        ):
            return f"already scheduled at {at} ({entry.name})", []
        return f"scheduled at {at} ({entry.name})", [Command(entry.argv, node.os, field="at")]
    for j in state.at_jobs or []:
        if _at_matches(j, entry):
            return f"already scheduled at {at} (AT #{j.job_id})", []
    return f"scheduled at {at} (AT)", [
        Command(entry.argv, node.os, field="at", raw_tail=" ".join(_at_tail(entry)))
    ]


@dataclass(frozen=True)
class PendingOneShot:
    """A one-shot of clpbackup's for a job that is scheduled and has not run yet (FO-2 / FB-1).

    ``name`` is the task name or ``AT #<id>``; ``at`` its start time (``HH:MM``); ``delete`` the
    command that removes it (an AT job is not replaced by a new one: it would run as well).
    """

    name: str
    at: str | None
    delete: Command | None = None

    def describe(self, plan: Plan) -> str:
        """``clpbackup-…-once at 06:00 (the failover backup's time, FO-2)`` — what an operator needs."""
        fb = plan.failover_backup
        kind = " (the failover backup's time, FO-2)" if fb is not None and self.at == fb.at else ""
        return f"{self.name} at {self.at or 'an unknown time'}{kind}"


def _one_shot_batch(plan: Plan, node: Node, job: str) -> str:
    """The batch file a one-shot of ``job`` runs: the failover run's (NTBackup: its own, FO-2/NT-3)."""
    run = (
        render.failover_run(plan, node) if plan.failover_backup and plan.failover_backup.job == job else None
    )
    return run.batch if run is not None else render.job_script_path(plan, job)


def pending_one_shot(plan: Plan, node: Node, state: NodeState, job: str, at: str) -> PendingOneShot | None:
    """The one-shot of ``job`` that is waiting to run on the node and is *not* the one ``at`` asks
    for, or ``None``.

    A failback one-shot created with the same task name would silently replace a pending failover
    one-shot (``schtasks /Create /F``), and a new AT job would run besides a pending one: the caller
    refuses unless told to replace it.
    """
    platform = get_platform(node.os)
    batch = _one_shot_batch(plan, node, job)
    entry = render.once_schedule(plan, node, job, at if at != "now" else "00:00", batch=batch)
    once = render.task_name(plan, job, once=True)
    task = state.task(once)
    # Not run yet and a next run to come: a one-shot whose time passed unrun shows no next run
    # (schtasks: "N/A") and will never run, so it is no pending backup to protect.
    if task is not None and task.last_run is None and task.next_run is not None and task.state != "running":
        start = task.start_time
        shown = start.strftime("%H:%M") if start else None
        same = at != "now" and entry.scheduler == "schtasks" and _task_matches(task, entry) is None
        if not same:
            return PendingOneShot(once, shown)
    for j in state.at_jobs or []:
        if j.recurring or _norm_cmd(j.command) != _norm_cmd(entry.run):
            continue
        if at != "now" and entry.scheduler == "at" and j.time == entry.at:
            continue  # the one asked for: idempotent, not "another"
        return PendingOneShot(f"AT #{j.job_id}", j.time, platform.at_delete(j.job_id))
    return None


def last_run_marker(plan: Plan, node: Node, art: NodeArtifacts, state: NodeState, job: str) -> RunMarker:
    """The task that runs ``job`` and its last run, before a run-now (to see the new run)."""
    once = render.task_name(plan, job, once=True)
    name = _daily_task_name(plan, node, art, state, job) or once
    task = state.task(name)
    return RunMarker(name, task.last_run if task else None)


def run_task_name(plan: Plan, node: Node, art: NodeArtifacts, state: NodeState, job: str) -> str:
    """The task a run-now of ``job`` starts (:func:`run_now_commands`): its daily task (or ``At<id>``),
    else its one-shot task."""
    return _daily_task_name(plan, node, art, state, job) or render.task_name(plan, job, once=True)


def run_started(before: NodeState, after: NodeState, task: str) -> bool:
    """True when ``task`` is running in ``after``, or has run since ``before``.

    Decides, after an apply whose answer was lost (connection failed, deadline), whether the run it
    carried has started on the node; a run that started is never started a second time.
    """
    new = after.task(task)
    if new is None:
        return False
    if is_running(new):
        return True
    old = before.task(task)
    return new.last_run is not None and (old is None or old.last_run != new.last_run)


def run_now_commands(plan: Plan, node: Node, art: NodeArtifacts, state: NodeState, job: str) -> list[Command]:
    """Start ``job`` now, detached, through the node's scheduler (decision 4).

    The job's daily task (or the ``At<id>`` task of its AT job) is run with ``schtasks /Run``;
    a job without one gets a one-shot task as SYSTEM that is run at once.
    """
    platform = get_platform(node.os)
    name = _daily_task_name(plan, node, art, state, job)
    if name is not None:
        return [platform.schtasks_run(name)]
    once = render.once_schedule(plan, node, job, "00:00")
    return [
        platform.schtasks_once(once.name, "00:00", once.run, field="jobs"),
        platform.schtasks_run(once.name),
    ]


def run_result(
    plan: Plan, node: Node, art: NodeArtifacts, state: NodeState, job: str, before: RunMarker | None
) -> RunResult:
    """How a run started by :func:`run_now_commands` stands: running, or its outcome."""
    task = state.task(before.task) if before else None
    path = log_path(plan, job)
    res = RunResult(node.name, job=job, log_path=path)
    if before is None or task is None:
        name = before.task if before else job
        res.outcome = "failed"
        res.problems.append(Problem("RUN", f"the task {name} that runs {job} is gone", node.name))
        return res
    if is_running(task) or not before.ran_since(task):
        res.outcome = "running"
        log = state.logs.get(job)
        if log:
            res.progress = copied_percent(log)
        return res
    res.last_result = task.last_result
    versions = state.versions.get(job)
    if versions:
        res.version = max(versions, key=lambda v: v.time_utc).version_id
    log = state.logs.get(job)
    why = tool_verdict(plan, state, job, task.last_run) if task.last_result == 0 else None
    if plan.jobs[job].ntbackup is not None:
        res.version = _fmt(last_success(plan, state, job))
    if why:
        res.outcome = "failed"
        res.detail = why
        res.problems.append(Problem("BACKUP", f"{job} failed ({why}); see NTBackup's log", node.name))
    elif task.last_result == 0:
        res.outcome = "success"
    elif task.last_result == render.NOT_ATTACHED_RC and plan.jobs[job].scope == "switchover":
        res.outcome = "expected-failure"
        res.detail = "JOB-3: the switchover partition was not attached on this node"
    else:
        res.outcome = "failed"
        detail = f"exit code {task.last_result}"
        if log:
            try:
                summary = parse_backup_summary(log)
                if summary.errors:
                    detail += ": " + summary.errors[0]
            except ParseError:
                pass
        res.detail = detail
        res.problems.append(Problem("BACKUP", f"{job} failed ({detail}); see {path}", node.name))
    return res


# -- SCH-3 ---------------------------------------------------------------------------------------------


def daily_overlap(plan: Plan, artifacts: Mapping[str, NodeArtifacts], job: str, at: str) -> str | None:
    """SCH-3: the daily window a one-shot run of ``job`` at ``at`` would overlap, or ``None``."""
    start = parse_hhmm(at)
    dur = plan.jobs[job].duration_minutes
    day = 24 * 60
    for node, art in artifacts.items():
        for entry in art.schedules:
            if entry.kind != "daily":
                continue
            w = parse_hhmm(entry.at)
            wd = plan.jobs[entry.job].duration_minutes
            if (w - start) % day < dur or (start - w) % day < wd:
                return f"the daily run of {entry.job} on {node} ({entry.at}–{format_hhmm(w + wd)})"
    return None


# -- restore ---------------------------------------------------------------------------------------------


def job_for_item(plan: Plan, item: str) -> str:
    """The switchover job whose selection covers ``item`` (a volume ``E:`` or a path on it)."""
    try:
        volume = normalize_volume(item[:2])
    except ValueError:
        raise PlanError(f"{item!r} is neither a volume (E:) nor a path on one", field="item") from None
    if volume not in plan.cluster.switchover_volumes:
        raise PlanError(
            f"{volume} is not a switchover volume of the plan "
            f"({', '.join(plan.cluster.switchover_volumes)}); "
            "local disks are restored from each node's own backup (RS-1)",
            field="item",
        )
    for name, job in plan.jobs.items():
        if job.scope != "switchover":
            continue
        for inc in job.include:
            if inc[:2].upper() == volume:
                return name
    raise PlanError(f"no switchover job backs up {volume}", field="jobs")


def restore_source(
    plan: Plan,
    artifacts: Mapping[str, NodeArtifacts],
    states: Mapping[str, NodeState],
    decision: OwnerDecision,
    job: str,
    item: str,
) -> RestoreSource:
    """RS-1: the node and version holding the newest copy, and the exact recovery command (RS-2 on 2003)."""
    spec = plan.jobs[job]
    volume = item[:2].upper()
    src = RestoreSource(item=item, node=None, job=job, version=None, command=None)
    if not decision.known:
        src.problems.append(
            Problem("RS-1", "owner of the switchover partition unknown: " + "; ".join(decision.reasons))
        )
        return src
    owner = decision.owner
    assert owner is not None
    owner_node = plan.node(owner)
    platform = get_platform(owner_node.os)
    if spec.ntbackup is not None:
        nt = spec.ntbackup
        steps = platform.restore_steps(nt.library, field=f"jobs.{job}.ntbackup.library")
        runs = {n: last_success(plan, st, job) for n, st in states.items()}
        src.candidates = {n: _fmt(r) for n, r in runs.items()}
        src.node = owner
        src.version = _fmt(runs.get(owner))
        src.command = " && ".join(c.command_line() for c in steps.commands) or None
        src.steps = [
            f"RS-1: restore on {owner}, which has {volume} attached and took the newest full backup "
            "after the failover; use its tape or file",
            *steps.steps,
        ]
        if src.version is None:
            src.problems.append(Problem("RS-1", f"{owner} has no successful run of {job} yet"))
        return src
    newest: tuple[datetime, str, str] | None = None
    unknown: list[Problem] = []
    for node_name, state in states.items():
        why = state.version_errors.get(job) or state.version_pending.get(job)
        if why is not None:
            # the newest copy may be the one that cannot be seen: say so, never guess (fail closed)
            unknown.append(Problem("RS-1", f"{node_name}: {why}", node_name))
        versions = state.versions.get(job) or []
        best = max(versions, key=lambda v: v.time_utc) if versions else None
        src.candidates[node_name] = best.version_id if best else None
        if best and (newest is None or best.time_utc > newest[0]):
            newest = (best.time_utc, node_name, best.version_id)
    src.problems += unknown
    if newest is None:
        if not unknown:
            src.problems.append(Problem("RS-1", f"no backup version of {job} was found on either node"))
        return src
    _, holder, version = newest
    target = _target_for(plan, job, holder)
    assert target is not None
    if holder != owner and not target.startswith("\\\\"):
        src.problems.append(
            Problem(
                "WSB-3",
                f"the newest backup ({version}) is on {holder}'s local volume {target}: "
                "it cannot be restored "
                f"on {owner}, which has {volume} attached",
            )
        )
        return src
    if item.rstrip("\\").upper() == volume:
        cmd = platform.start_recovery(
            version, "Volume", [volume], target=target, machine=holder, field="item"
        )
    else:
        cmd = platform.start_recovery(
            version, "File", [item], target=target, machine=holder, recursive=True, field="item"
        )
    src.node, src.version, src.command = owner, version, cmd.command_line()
    src.steps = [
        f"RS-1: run on {owner} (it has {volume} attached); the backup was taken by {holder}",
        "clpbackup never runs a restore: check the command, stop the applications using the volume, "
        "then run it",
    ]
    return src


# -- restore drill (DRILL-1) ----------------------------------------------------------------------


def drill_paths(plan: Plan) -> list[str]:
    """What a drill reads besides the usual: each job's canary record and drill log."""
    out: list[str] = []
    for job in plan.jobs:
        out += [render.canary_record_path(plan, job), render.drill_log_path(plan, job)]
    return out


@dataclass(frozen=True)
class DrillSource:
    """The version a drill of ``job`` recovers on a node: the newest one RS-1 points to, made by
    ``machine`` (``version`` ``None`` and ``problem`` set when there is none to recover)."""

    job: str
    machine: str | None = None
    version: BackupVersion | None = None
    problem: str | None = None


def drill_source(plan: Plan, states: Mapping[str, NodeState], job: str, node: str) -> DrillSource:
    """The newest version of ``job`` a drill on ``node`` can recover: its own for a local job; for a
    switchover job the newest of both nodes' (RS-1: normally the owner's own after a failover), which
    must lie on a share when the other node made it (WSB-3). A node whose versions could not be read
    makes the answer unknown, never "older" (fail closed)."""
    spec = plan.jobs[job]
    readers = render.drill_machines(plan, node, job)
    asked = [n for n in states if n in readers] if spec.scope == "switchover" else [node]
    newest: tuple[BackupVersion, str] | None = None
    for name in asked:
        state = states.get(name)
        if state is None:
            return DrillSource(job, problem=f"{name} could not be read; its versions of {job} are unknown")
        why = state.version_errors.get(job) or state.version_pending.get(job)
        if why is not None:
            return DrillSource(job, problem=f"{name}: {why}")
        for v in state.versions.get(job) or []:
            if newest is None or v.time_utc > newest[0].time_utc:
                newest = (v, name)
    if newest is None:
        where = " or ".join(asked)
        return DrillSource(job, problem=f"no backup version of {job} made by {where} was found: run it first")
    return DrillSource(job, machine=newest[1], version=newest[0])


def canary_tokens(plan: Plan, state: NodeState, job: str) -> list[tuple[str, str]]:
    """``(token, when)`` of each canary ``job``'s runs wrote on the node, oldest first."""
    text = state.drill_files.get(render.canary_record_path(plan, job)) or ""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        token, _, when = line.strip().partition(" ")
        if token.isdigit():
            out.append((token, when.strip()))
    return out


_LOCAL_FORMATS = ("%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M", "%Y/%m/%d %H:%M", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M")


def local_offset(version: BackupVersion) -> timedelta | None:
    """The node's UTC offset when ``version`` was made: its local "Backup time" (as printed, in the
    node's short formats) minus its UTC identifier, to the quarter hour; ``None`` when the printed
    time is in a format not known here."""
    text = " ".join((version.backup_time_text or "").split())
    for fmt in _LOCAL_FORMATS:
        try:
            local = datetime.strptime(text, fmt)
        except ValueError:
            continue
        delta = local - version.time_utc.replace(tzinfo=None)
        quarters = round(delta.total_seconds() / 900)
        return timedelta(seconds=quarters * 900)
    return None


def drill_verdict(
    plan: Plan, holder: NodeState, job: str, version: BackupVersion, log_text: str | None
) -> tuple[DrillVerdict, str, DrillLog | None]:
    """Judge a drill from its log: ``pass`` when a canary came back, wbadmin reported no error and the
    token is one the job's runs on the version's maker recorded; else ``fail`` with the reason."""
    if not log_text:
        return "fail", f"the drill left no log in {render.drill_log_path(plan, job)}", None
    try:
        log = parse_drill_log(log_text)
    except ParseError as exc:
        return "fail", str(exc), None
    if log.error is not None:
        return "fail", f"wbadmin: {log.error}", log
    if log.token is None:
        return "fail", f"no canary came back from version {version.version_id}: {log.message}", log
    tokens = canary_tokens(plan, holder, job)
    if log.job != job or log.token not in [t for t, _ in tokens]:
        return (
            "fail",
            f"the canary recovered from version {version.version_id} holds token {log.token}, which no "
            f"run of {job} recorded in {render.canary_record_path(plan, job)}: the file was changed or "
            "is not clpbackup's",
            log,
        )
    later = [t for t, _ in tokens][[t for t, _ in tokens].index(log.token) + 1 :]
    note = ""
    if later:
        note = f" ({len(later)} later run(s) wrote newer canaries that no readable version holds)"
    return "pass", log.message + note, log


def drill_done(state: NodeState, task: str) -> bool:
    """True when the drill's one-shot ``task`` has run and ended (it is created fresh by each drill
    and deleted after it, so any last run is this drill's)."""
    t = state.task(task)
    if t is None or t.last_run is None:
        return False
    return not (is_running(t) or t.last_result == _NOT_YET_RUN)


@dataclass(frozen=True)
class DrillLeftover:
    """What a drill of ``job`` that did not end left on a node, as the record lists it (OWN-1):
    its script (when still as the drill wrote it) and its one-shot task (when still there)."""

    job: str
    script: str | None
    task: str | None
    running: bool = False

    def note(self) -> str:
        """The status note: what is left, and what removes it."""
        parts = []
        if self.task is not None:
            parts.append(f"the task {self.task}" + (" (still running)" if self.running else ""))
        if self.script is not None:
            parts.append(f"the script {self.script}")
        return (
            f"DRILL-1: an interrupted drill left {' and '.join(parts)} ({self.job}; in clpbackup's "
            "record): the next drill or uninstall removes it"
        )


def drill_leftovers(plan: Plan, state: NodeState, files: Mapping[str, FileState]) -> list[DrillLeftover]:
    """Per job, the drill script and task the record lists and the node still has (``files``: the
    inspect's answer, which hashes each job's drill script)."""
    out = []
    for job in plan.jobs:
        path, name = render.drill_script_path(plan, job), render.drill_task_name(plan, job)
        recorded, now = state.record.file(path), files.get(path)
        script = path if recorded is not None and now is not None and now.sha256 == recorded.sha256 else None
        task = state.task(name) if state.record.task(name) is not None else None
        if script is None and task is None:
            continue
        running = task is not None and is_running(task)
        out.append(DrillLeftover(job, script, _short(task) if task is not None else None, running))
    return out


def ntbackup_drill(plan: Plan, node: Node, state: NodeState, job: str) -> tuple[str | None, str]:
    """2003: NTBackup has no command-line restore. The newest complete set of ``job`` by NTBackup's
    own log (``backupNN.log``, as status reads it), and what a file-level drill needs instead."""
    newest = last_success(plan, state, job)
    where = render.canary_path(plan, job)
    canary = ""
    if where:
        canary = f" (the canary {where[0]} and its tokens in {render.canary_record_path(plan, job)})"
    gui = (
        "NTBackup has no command-line restore: a file-level drill needs the Backup Utility (ntbackup.exe, "
        f"Restore and Manage Media; catalog the media first, RS-2){canary}"
    )
    if state.tool_logs is None:
        return None, f"NTBackup's logs of SYSTEM could not be read on {node.name}; {gui}"
    if newest is None:
        return None, f"NTBackup's log has no complete backup of {job} on {node.name}; {gui}"
    return _fmt(newest), f"NTBackup's log records the newest complete set of {job} at {_fmt(newest)}; {gui}"


def last_drills(plan: Plan, state: NodeState) -> dict[str, str]:
    """Per job, the last drill on the node as its result file says (status): the operator's
    (``clpbackup drill``) or the weekly task's (DRILL-2, marked ``[weekly task]``), whichever ran
    last — both write the same one-line JSON."""
    out: dict[str, str] = {}
    for job in plan.jobs:
        text = state.drill_files.get(render.drill_result_path(plan, job))
        if not text:
            continue
        try:
            data = json.loads(text)
            line = f"{data['verdict']} at {' '.join(str(data['when']).split())}"
            if data.get("version"):
                by = f" by {data['machine']}" if data.get("machine") else ""
                line += f" (version {data['version']}{by})"
            if data.get("by"):
                line += f" [{data['by']}]"
            if data.get("verdict") != "pass" and data.get("message"):
                line += f": {data['message']}"
        except (ValueError, KeyError, TypeError):
            line = f"unreadable: {render.drill_result_path(plan, job)}"
        out[job] = line
    return out


def benign_failure(result: CommandResult) -> bool:
    """A command failure that leaves the node as wanted (deleting what is already gone)."""
    argv = [a.lower() for a in result.argv]
    text = result.stderr + result.stdout
    if argv[:2] == ["schtasks", "/delete"]:
        # the schtasks parser knows the "task not found" messages of both locales
        try:
            return parse_delete_output(text).not_found
        except ParseError:
            return False
    if argv[:1] == ["at"] and "/delete" in argv:
        low = text.lower()
        return "cannot find" in low or "見つかりません" in low or "does not exist" in low
    return False


__all__ = [
    "FAILED_DRILL",
    "NOT_DELEGATED_NOTE",
    "PASSED_ONE_SHOT",
    "DrillLeftover",
    "NodeState",
    "Probe",
    "RunMarker",
    "benign_failure",
    "build_inspect",
    "canary_paths",
    "canary_tokens",
    "daily_overlap",
    "drift",
    "drill_done",
    "drill_leftovers",
    "drill_paths",
    "drill_source",
    "drill_verdict",
    "job_for_item",
    "last_drills",
    "last_run_marker",
    "local_offset",
    "newest_versions",
    "ntbackup_drill",
    "one_shot_commands",
    "read_state",
    "reads_shares_directly",
    "restore_source",
    "run_now_commands",
    "run_result",
    "schedule_changes",
    "schedule_status",
    "selection_problems",
    "tool_runs",
    "tool_verdict",
    "version_problems",
    "wants_delegation",
]


# -- LIVE-1: a batch file a running task executes is left as it is ------------------------------------


def _runs_file(command: str | None, path: str) -> bool:
    """True when a task's command line names ``path`` (a whole path: the next character ends it)."""
    if not command:
        return False
    return re.search(re.escape(path) + r'(?=["\s]|$)', command, re.IGNORECASE) is not None


def _is_batch(path: str) -> bool:
    return path.lower().endswith((".bat", ".cmd"))


@dataclass(frozen=True)
class LiveRun:
    """A batch file of clpbackup's that a task runs (LIVE-1): ``task`` its short name (``At3`` for an
    AT job), ``running`` whether it shows Running now."""

    path: str
    task: str
    running: bool

    def problem_text(self, job: str | None, what: str) -> str:
        """The LIVE-1 problem: the rule, the job, the file, the task and what to do."""
        of = f"job {job}: " if job else ""
        return (
            f"LIVE-1: {of}{self.path} is being run by the task {self.task} (Running now); {what} "
            "(cmd.exe reads a running batch file by byte offset: rewriting or deleting it would make "
            "the run go on in the middle of another line); deploy again after the run ends"
        )


def batch_runs(state: NodeState, paths: Sequence[str]) -> dict[str, list[LiveRun]]:
    """For each batch file in ``paths`` (lower-cased key), the node's tasks whose command runs it.

    AT jobs are in the listing as ``At<N>`` (schtasks lists them with the other tasks,
    docs/windows-facts.md): their running state is read the same way (unverified on 2003)."""
    out: dict[str, list[LiveRun]] = {}
    seen: set[str] = set()
    for path in paths:
        # deploy passes the rendered files and the recorded ones: mostly the same paths
        if not _is_batch(path) or path.lower() in seen:
            continue
        seen.add(path.lower())
        for task in state.tasks or []:
            if _runs_file(task.task_to_run, path):
                out.setdefault(path.lower(), []).append(LiveRun(path, _short(task), is_running(task)))
    return out


def live_files(runs: Mapping[str, list[LiveRun]]) -> dict[str, LiveRun]:
    """The batch files a task is running now (lower-cased path -> the first such run)."""
    out: dict[str, LiveRun] = {}
    for key, items in runs.items():
        running = [r for r in items if r.running]
        if running:
            out[key] = running[0]
    return out


def running_guard(platform_query: Command, tasks: Sequence[str]) -> tuple[Command, str] | None:
    """The LOCK-1 re-check of LIVE-1: ``schtasks /Query /FO CSV /V`` under the node lock, and the
    pattern of a line that shows one of ``tasks`` Running (the apply is then stale: read again and
    decide again). ``None`` without tasks."""
    if not tasks:
        return None
    names = "|".join(re.escape(t) for t in sorted(set(tasks), key=str.lower))
    words = "|".join(re.escape(w) for w in RUNNING_WORDS)  # matched case-insensitively: (?i)
    # verbose CSV: "HostName","TaskName","Next Run Time","Status",...  (TaskName with or without
    # its leading \ ; the same columns on Task Scheduler 1.0 and 2.0, parsers/schtasks.py)
    pattern = rf'(?im)^"[^"\r\n]*","\\?(?:{names})","[^"\r\n]*","(?:{words})"'
    return platform_query, pattern
