"""Rule checks: a plan against the operating rules of NEC's guide (pure).

:func:`check` returns a list of :class:`Finding`, errors first. Every finding names the rule it
comes from (the IDs of ``docs/rules.md``: JOB-2, SCH-2, WSB-3 …), the node and job it is about, what
is wrong and what to do. :func:`raise_for_errors` turns the error findings into a
:class:`~clpbackup.errors.PlanError`.

Only what can be decided from the plan alone is checked here. What needs the nodes themselves (is
the Schedule service automatic, is Windows Server Backup installed, which node has the partition)
is reported as ``info`` and checked live by the operations layer.

:func:`standby_start` is the one place that computes when the standby node's switchover backup
starts (SCH-2); rendering uses it too, so the check and the schedule agree.

This module does no I/O.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from clpbackup.errors import ClpBackupError, PlanError, QuotingError
from clpbackup.plan import format_hhmm, parse_hhmm
from clpbackup.platforms import Platform, get_platform
from clpbackup.winquote import CMD_PATH_FORBIDDEN

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.plan import Job, Node, Plan

__all__ = [
    "CANARY_DIR",
    "DRILL_SLOT_MINUTES",
    "SCH2_MARGIN_MINUTES",
    "Finding",
    "Findings",
    "Severity",
    "canary_path",
    "check",
    "drill_refusal",
    "earliest_standby_start",
    "raise_for_errors",
    "scheduler_for",
    "standby_start",
    "weekly_drill_jobs",
    "weekly_drill_starts",
]

Severity = Literal["error", "warning", "info"]

_RANK: dict[str, int] = {"error": 0, "warning": 1, "info": 2}

SCH2_MARGIN_MINUTES = 15
"""Minutes between the expected end of the home node's switchover backup and the standby's start."""

_DAY = 24 * 60


@dataclass(frozen=True)
class Finding:
    """One result of a rule check.

    ``rule`` is the rule ID (``WSB-3``; ``QUOTE`` for a value that cannot be carried into a command
    line). ``node`` and ``job`` name what the finding is about (``None``: the whole plan / both
    nodes). ``field`` is the plan field to change, when there is one. ``hint`` says what to do.
    """

    rule: str
    severity: Severity
    node: str | None
    job: str | None
    message: str
    hint: str = ""
    field: str | None = None

    @property
    def where(self) -> str:
        """``node-a, job shared-daily`` style location ('' when the finding is about the whole plan)."""
        parts = []
        if self.node:
            parts.append(f"node {self.node}")
        if self.job:
            parts.append(f"job {self.job}")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict (the form of ``clpbackup validate --format json``)."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "node": self.node,
            "job": self.job,
            "field": self.field,
            "message": self.message,
            "hint": self.hint,
        }

    def __str__(self) -> str:
        where = f" ({self.where})" if self.where else ""
        text = f"{self.rule} {self.severity}{where}: {self.message}"
        if self.hint:
            text += f" — {self.hint}"
        return text

    def _repr_html_(self) -> str:
        from clpbackup.display import finding_html

        return finding_html(self)

    def _repr_markdown_(self) -> str:
        from clpbackup.display import finding_markdown

        return finding_markdown(self)


class Findings(list[Finding]):
    """A plain list of findings (what ``Plan.findings()`` returns) with notebook views."""

    @property
    def errors(self) -> list[Finding]:
        """The findings of severity ``error`` (a plan with any is refused)."""
        return [f for f in self if f.severity == "error"]

    def _repr_html_(self) -> str:
        from clpbackup.display import findings_html

        return findings_html(self)

    def _repr_markdown_(self) -> str:
        from clpbackup.display import findings_markdown

        return findings_markdown(self)


# -- helpers shared with render ------------------------------------------------------------------


def scheduler_for(plan: Plan, node: Node) -> Literal["at", "schtasks"]:
    """The scheduler clpbackup uses on ``node``: the plan's choice, or the guide's for its OS.

    ``auto`` means the platform's ``default_scheduler``: AT on 2003 / 2008 / 2008 R2 and schtasks
    on 2012 (where AT is deprecated).
    """
    if plan.scheduler != "auto":
        return plan.scheduler
    return get_platform(node.os).default_scheduler


def _job(plan: Plan, job_name: str) -> Job:
    try:
        return plan.jobs[job_name]
    except KeyError:
        raise PlanError(
            f"no job named {job_name!r}; the plan's jobs are {', '.join(plan.jobs)}", field="jobs"
        ) from None


def ntbackup_media(job: Job) -> tuple[str, str] | None:
    """What an NTBackup job writes to — ``("media_pool"|"tape"|"file", name)`` — for NT-3 (two jobs on
    the same media share a tape); ``None`` for a WSB job. File names compare case-insensitively."""
    nt = job.ntbackup
    if nt is None:
        return None
    if nt.media_pool:
        return ("media_pool", nt.media_pool)
    if nt.tape:
        return ("tape", nt.tape)
    if nt.file:
        return ("file", nt.file.lower())
    return None  # pragma: no cover - NtBackupOptions requires one of them


def earliest_standby_start(plan: Plan, job_name: str) -> str:
    """``HH:MM`` at which the standby node's run of a switchover job may start at the earliest (SCH-2).

    That is the home node's start (``daily_at``) + ``expected_duration`` + a margin of
    :data:`SCH2_MARGIN_MINUTES` minutes, wrapping past midnight.
    """
    job = _job(plan, job_name)
    if job.daily_at is None:
        raise PlanError(
            f"job {job_name!r} has no daily_at, so it has no daily start on the standby node",
            field=f"jobs.{job_name}.daily_at",
        )
    return format_hhmm(parse_hhmm(job.daily_at) + job.duration_minutes + SCH2_MARGIN_MINUTES)


def standby_start(plan: Plan, job_name: str) -> str:
    """``HH:MM`` at which the job's daily run starts on the standby (non-home) node.

    A local job starts at the same time on both nodes (SCH-1). A switchover job starts at its
    pinned ``standby_at`` when the plan gives one, otherwise after the home node's run is expected
    to end: ``daily_at + expected_duration + 15 min`` (SCH-2, :func:`earliest_standby_start`).
    :func:`check` reports a pinned ``standby_at`` earlier than that as an error.
    ``PlanError`` when the job has no ``daily_at``.
    """
    job = _job(plan, job_name)
    if job.daily_at is None:
        raise PlanError(
            f"job {job_name!r} has no daily_at, so it has no daily start on the standby node",
            field=f"jobs.{job_name}.daily_at",
        )
    if job.scope == "local":
        return job.daily_at
    if job.standby_at is not None:
        return job.standby_at
    return earliest_standby_start(plan, job_name)


#: The folder clpbackup's canary files live in, on a volume or folder the job backs up (DRILL-1).
CANARY_DIR = "clpbackup-canary"


def _covers(item: str, path: str) -> bool:
    """``path`` is ``item`` or under it (case-insensitive, as Windows paths are)."""
    base = item.rstrip("\\").lower()
    low = path.lower()
    return low == base or low.startswith(base + "\\")


def canary_path(plan: Plan, job: str) -> tuple[str, str] | None:
    """``(path, field)`` of the job's canary file (DRILL-1), or ``None`` when the job has no place
    for one.

    The canary is ``<item>\\clpbackup-canary\\<job>.txt`` under an item the job backs up: a whole
    volume first (``E:`` → ``E:\\clpbackup-canary\\<job>.txt``), else the first folder (one
    without blanks before one with); for a
    switchover job only items on the switchover volumes (the partition the job exists for). An
    NTBackup line without a trailing backslash names a file, not a folder, and is never used; an
    item an exclusion covers, a wildcard, a UNC path or a path with a character cmd.exe would
    reinterpret (``( ) & % !`` …) neither. ``field`` is the plan field of
    the item chosen (errors about the path name it).
    """
    spec = _job(plan, job)
    candidates: list[tuple[int, str, str]] = []
    for i, item in enumerate(spec.include):
        if len(item) < 2 or item[1] != ":" or not item[0].isalpha() or "*" in item or "?" in item:
            continue
        if spec.scope == "switchover" and item[:2].upper() not in plan.cluster.switchover_volumes:
            continue
        whole = item.rstrip("\\").upper() == item[:2].upper()
        if not whole and spec.ntbackup is not None and not item.endswith("\\"):
            continue  # NT-2: a .bks line without the trailing backslash is a file
        base = item[:2].upper() if whole else item.rstrip("\\")
        path = f"{base}\\{CANARY_DIR}\\{job}.txt"
        if any(_covers(x, path) for x in spec.exclude):
            continue
        if any(ch in CMD_PATH_FORBIDDEN for ch in path):
            # the canary is optional, the backup is not: a path cmd.exe would reinterpret in a batch
            # line (C:\Program Files (x86)\…, %, !) is passed over, never a reason to refuse the plan
            continue
        # a whole volume first; a path without blanks before one with (fewer quoting pitfalls)
        rank = (0 if whole else 1) + (2 if " " in path else 0)
        candidates.append((rank, path, f"jobs.{job}.include[{i}]"))
    if not candidates:
        return None
    _, path, fld = min(candidates, key=lambda c: c[0])
    return path, fld


#: Minutes the weekly drill of one job is given before the next job's drill starts (DRILL-2): one
#: ``wbadmin get versions`` and the recovery of one small file; wbadmin runs one operation at a
#: time, so the drills of several jobs are spread out, and DRILL-2 keeps each slot out of every
#: backup window.
DRILL_SLOT_MINUTES = 15


def drill_refusal(plan: Plan, job_name: str) -> str | None:
    """Why the node-side drill (the weekly task) cannot check ``job_name``, or ``None`` when it can.

    It needs wbadmin on both nodes (NTBackup on 2003 has no command-line restore) and a canary in
    the job's backups (:func:`canary_path`)."""
    job = _job(plan, job_name)
    ntbackup = [n for n in plan.nodes if get_platform(n.os).backup_tool != "wbadmin"]
    if ntbackup or job.ntbackup is not None:
        where = ", ".join(sorted({get_platform(n.os).display_name for n in ntbackup})) or "NTBackup"
        return (
            f"NTBackup ({where}) has no command-line restore: a file-level drill of {job_name} needs "
            "the Backup Utility's GUI, which no scheduled task can run"
        )
    if canary_path(plan, job_name) is None:
        return (
            f"{job_name} has no canary: no volume or folder it backs up can hold one (a whole volume, "
            "or a folder without ( ) & % ! that no exclude covers)"
        )
    return None


def weekly_drill_jobs(plan: Plan) -> list[str]:
    """The jobs the weekly drill task checks (DRILL-2), in plan order: ``drill.jobs``, or every job
    the node-side drill can check (:func:`drill_refusal`); ``[]`` without a ``drill`` option."""
    if plan.drill is None:
        return []
    if plan.drill.jobs is not None:
        return [j for j in plan.jobs if j in plan.drill.jobs]
    return [j for j in plan.jobs if drill_refusal(plan, j) is None]


def weekly_drill_starts(plan: Plan) -> dict[str, str]:
    """``{job: HH:MM}``: when each job's weekly drill starts on ``drill.weekly.day`` (DRILL-2). The
    first job at ``drill.weekly.at``, each further one :data:`DRILL_SLOT_MINUTES` later (wbadmin
    runs one operation at a time). The same on both nodes (JOB-1)."""
    if plan.drill is None:
        return {}
    first = parse_hhmm(plan.drill.weekly.at)
    return {
        job: format_hhmm(first + i * DRILL_SLOT_MINUTES) for i, job in enumerate(weekly_drill_jobs(plan))
    }


# -- classification of plan values ---------------------------------------------------------------

_DRIVE = re.compile(r"^([A-Za-z]):")
_VOLUME_ONLY = re.compile(r"^([A-Za-z]):\\?$")
_GUID_VOLUME = re.compile(r"^\\\\\?\\Volume\{[0-9A-Fa-f-]{36}\}\\?$")
_UNC = re.compile(r"^\\\\[^\\?.][^\\]*\\[^\\]+")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

# Selections that mean "everything on this computer" (JOB-4: fails under CLUSTERPRO with 0x8004230c).
_EVERYTHING = frozenset(
    {
        "*", "*.*", "\\", "/", "*:", "*:\\", "all", "all volumes", "allvolumes", "everything",
        "my computer", "mycomputer", "マイ コンピュータ", "マイコンピュータ", "allcritical", "-allcritical",
    }
)

# Password-looking switches or assignments inside a value (SEC-1). The value is never echoed.
_PASSWORDISH = re.compile(
    r"""(?ix)
    (?:^|[\s"'])(?:/rp|/p(?:ass(?:word)?)?|/pw|-password|--password|-pass|-pwd)(?=$|[\s:="'])
    | \b(?:password|passwd|pwd)\s*[:=]
    """
)

def _volume(path: str) -> str | None:
    """``E:`` for ``E:``, ``e:\\``, ``E:\\data``; ``None`` for UNC, GUID and other paths."""
    m = _DRIVE.match(path)
    return m.group(1).upper() + ":" if m else None


def _is_systemstate(item: str) -> bool:
    return item.strip().lower() == "systemstate"


def _uses_wsb(job: Job) -> bool:
    return job.ntbackup is None


def _windows(plan: Plan) -> Iterator[tuple[str, str, int, int]]:
    """Every daily run window: (node, job, start minute, duration minutes)."""
    home = plan.home_node
    standby = plan.standby_node
    for name, job in plan.jobs.items():
        if job.daily_at is None:
            continue
        yield home.name, name, parse_hhmm(job.daily_at), job.duration_minutes
        yield standby.name, name, parse_hhmm(standby_start(plan, name)), job.duration_minutes


def _overlap(a: int, da: int, b: int, db: int) -> bool:
    """Do the daily windows ``[a, a+da)`` and ``[b, b+db)`` overlap (modulo 24 h)?"""
    return (b - a) % _DAY < da or (a - b) % _DAY < db


def _span(start: int, duration: int) -> str:
    return f"{format_hhmm(start)}–{format_hhmm(start + duration)}"


def _node_field(plan: Plan, node: Node) -> str:
    return f"nodes[{plan.nodes.index(node)}]"


class _Collector:
    """Collects findings; ``add`` keeps the order rules are run in."""

    def __init__(self) -> None:
        self.items: list[Finding] = []

    def add(
        self,
        rule: str,
        severity: Severity,
        message: str,
        *,
        node: str | None = None,
        job: str | None = None,
        hint: str = "",
        field: str | None = None,
    ) -> None:
        self.items.append(Finding(rule, severity, node, job, message, hint, field))

    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.items)


def _per_node(plan: Plan, bad: list[Node]) -> list[str | None]:
    """Node names to report a finding on: ``[None]`` when it is true of both nodes."""
    if len(bad) == len(plan.nodes):
        return [None]
    return [n.name for n in bad]


# -- the rules -----------------------------------------------------------------------------------


def _job2_job4(plan: Plan, out: _Collector) -> None:
    """JOB-2 (local and switchover jobs are separate) and JOB-4 (explicit selection)."""
    sw = set(plan.cluster.switchover_volumes)
    covered: set[str] = set()
    for name, job in plan.jobs.items():
        fld = f"jobs.{name}.include"
        local_items: list[str] = []
        sw_items: list[str] = []
        sw_at: list[int] = []  # where the switchover items are: a local job's finding points at the first
        for i, item in enumerate(job.include):
            low = item.strip().lower()
            if low in _EVERYTHING:
                out.add(
                    "JOB-4", "error",
                    f"include[{i}] {item!r} selects everything on the computer; under CLUSTERPRO that "
                    "backup fails with VSS error 0x8004230c",
                    job=name, field=f"{fld}[{i}]",
                    hint="name the volumes or folders to back up one by one, e.g. ['C:\\data', 'D:']",
                )
                continue
            if _is_systemstate(item):
                local_items.append(item)
                continue
            vol = _volume(item)
            if vol is None:
                if _UNC.match(item):
                    sev: Severity = "error" if _uses_wsb(job) else "warning"
                    out.add(
                        "JOB-4", sev,
                        f"include[{i}] {item!r} is a network path, not a volume or folder of the node",
                        job=name, field=f"{fld}[{i}]",
                        hint="back up the node's own volumes (C:, E:) or folders (C:\\data); "
                        "a share is backed up on the server that holds it",
                    )
                elif not _GUID_VOLUME.match(item):
                    out.add(
                        "JOB-4", "error",
                        f"include[{i}] {item!r} is not a volume or a folder with a drive letter",
                        job=name, field=f"{fld}[{i}]",
                        hint="write volumes as E: and folders as full paths such as C:\\data",
                    )
                continue
            if vol in sw:
                sw_items.append(item)
                sw_at.append(i)
                covered.add(vol)
            else:
                local_items.append(item)
        if local_items and sw_items:
            out.add(
                "JOB-2", "error",
                f"the job mixes switchover volumes ({', '.join(sw_items)}) and local items "
                f"({', '.join(local_items)}); the guide requires two separate jobs",
                job=name, field=fld,
                hint="split it into a scope: local job and a scope: switchover job, each with its own "
                "batch file",
            )
        elif job.scope == "local" and sw_items:
            out.add(
                "JOB-2", "error",
                f"the job is scope: local but includes the switchover volume(s) {', '.join(sw_items)}",
                job=name, field=f"{fld}[{sw_at[0]}]",
                hint="set scope: switchover for this job (the partition is attached to one node at a time), "
                "or move that item to a switchover job",
            )
        elif job.scope == "switchover" and not sw_items:
            known = ", ".join(plan.cluster.switchover_volumes) or "none listed"
            out.add(
                "JOB-2", "error",
                f"the job is scope: switchover but includes no switchover volume "
                f"(cluster.switchover_volumes: {known})",
                job=name, field=fld,
                hint="include the switchover partition (e.g. E:) and list it under "
                "cluster.switchover_volumes, or set scope: local",
            )
    for vol in plan.cluster.switchover_volumes:
        if vol not in covered:
            out.add(
                "JOB-2", "warning",
                f"the switchover volume {vol} is not backed up by any switchover job",
                field="cluster.switchover_volumes",
                hint=f"add a job with scope: switchover and include: ['{vol}']",
            )
    scripts_volume = plan.scripts_dir[:2].upper()
    if scripts_volume in sw:
        out.add(
            "JOB-1", "error",
            f"scripts_dir {plan.scripts_dir} is on the switchover partition {scripts_volume}, which only the "
            "node that runs the group has: the other node would get no backup scripts and no failover script",
            field="scripts_dir",
            hint="put scripts_dir on a local disk of both nodes, such as C:\\clpbackup",
        )


def _ntbackup_descriptions(plan: Plan, out: _Collector) -> None:
    """NT-2: every NTBackup job's sets carry a description of their own (``/D``: the
    ``ntbackup.description``, else the job name): status and RS-1 tell the jobs' runs apart by it
    in NTBackup's log (docs/windows-facts.md, "NTBackup (2003)")."""
    seen: dict[str, str] = {}
    for name, job in plan.jobs.items():
        if job.ntbackup is None:
            continue
        key = job.ntbackup.description or name
        if key in seen:
            out.add(
                "NT-2", "error",
                f"jobs {seen[key]} and {name} describe their backup sets the same way ({key!r}): "
                "their runs could not be told apart in NTBackup's log",
                job=name, field=f"jobs.{name}.ntbackup.description",
                hint="give each NTBackup job its own ntbackup.description (or leave it out: the job name)",
            )
        else:
            seen[key] = name


def _systemstate(plan: Plan, out: _Collector) -> None:
    """NTBackup ``systemstate`` caveats (JOB-4 / NT-2); WSB has no system state under CLUSTERPRO (WSB-1)."""
    for name, job in plan.jobs.items():
        items = [i for i in job.include if _is_systemstate(i)]
        if not items:
            continue
        if job.ntbackup is None:
            out.add(
                "WSB-1", "error",
                "include names systemstate: Windows Server Backup jobs under CLUSTERPRO protect user "
                "data only (no system state, no bare-metal recovery)",
                job=name, field=f"jobs.{name}.include",
                hint="remove systemstate from include",
            )
            continue
        if job.ntbackup.type not in ("normal", "copy"):
            out.add(
                "NT-2", "error",
                f"ntbackup backs up systemstate only with type normal or copy, not {job.ntbackup.type}",
                job=name, field=f"jobs.{name}.ntbackup.type",
                hint="set ntbackup.type: normal (or copy), or move systemstate to its own job",
            )
        if len(job.include) == len(items):
            out.add(
                "JOB-4", "info",
                "this job backs up only the system state of each node; user data needs its own job. "
                "Restoring system state is a system recovery: see CAU-1 and CAU-3",
                job=name,
            )


def _platform(node: Node) -> Platform:
    return get_platform(node.os)


def _with_tool(plan: Plan, tool: str) -> list[Node]:
    """The plan's nodes whose platform backs up with ``tool`` (``ntbackup`` or ``wbadmin``)."""
    return [n for n in plan.nodes if _platform(n).backup_tool == tool]


def _os_rules(plan: Plan, out: _Collector) -> None:
    """OS-1 (tool matches OS), OS-2 (same OS on both nodes), OS-3 (WSB installed)."""
    for name, job in plan.jobs.items():
        if job.ntbackup is not None:
            bad = _with_tool(plan, "wbadmin")
            for node in _per_node(plan, bad):
                oses = ", ".join(sorted({_platform(n).display_name for n in bad}))
                out.add(
                    "OS-1", "error",
                    f"the job has an ntbackup block but NTBackup does not exist on {oses}",
                    node=node, job=name, field=f"jobs.{name}.ntbackup",
                    hint="on 2008 and later remove the ntbackup block and give a target: the job then "
                    "runs wbadmin",
                )
            if job.target is not None and _with_tool(plan, "ntbackup"):
                out.add(
                    "NT-2", "warning",
                    "target is a Windows Server Backup setting; NTBackup ignores it",
                    job=name, field=f"jobs.{name}.target",
                    hint="NTBackup writes to ntbackup.media_pool, ntbackup.tape or ntbackup.file",
                )
        else:
            bad = _with_tool(plan, "ntbackup")
            for node in _per_node(plan, bad):
                out.add(
                    "OS-1", "error",
                    "the job has no ntbackup block, so it would run wbadmin, which does not exist on "
                    "Windows Server 2003",
                    node=node, job=name, field=f"jobs.{name}",
                    hint="add an ntbackup block (media_pool, tape or file) for 2003 nodes",
                )
            rtm = [n for n in plan.nodes if not _platform(n).file_level]
            if rtm:
                files = [i for i in job.include if not _VOLUME_ONLY.match(i) and _volume(i)]
                for node in _per_node(plan, rtm):
                    if files:
                        out.add(
                            "OS-1", "error",
                            f"Windows Server 2008 (RTM) backs up whole volumes only; include names "
                            f"folders or files: {', '.join(files)}",
                            node=node, job=name, field=f"jobs.{name}.include",
                            hint="include whole volumes (E:) on 2008; file-level selection needs 2008 R2",
                        )
                    if job.exclude:
                        out.add(
                            "OS-1", "error",
                            "Windows Server 2008 (RTM) has no -exclude for wbadmin start backup",
                            node=node, job=name, field=f"jobs.{name}.exclude",
                            hint="remove exclude, or upgrade to 2008 R2",
                        )
    if plan.scheduler == "at":
        for n in plan.nodes:
            p = _platform(n)
            if not p.at_available:
                out.add(
                    "OS-1", "error",
                    f"AT creates no jobs on {p.display_name}: at.exe is deprecated since Windows "
                    "Server 2012 and refuses new jobs from Windows Server 2016 on",
                    node=n.name, field="scheduler",
                    hint=f"use scheduler: auto ({p.default_scheduler} on {p.os}) or schtasks",
                )
            elif p.at_deprecated:
                out.add(
                    "OS-1", "warning",
                    f"AT is deprecated on {p.display_name} (it prints a deprecation notice and "
                    "Windows Server 2016 and later refuse it)",
                    node=n.name, field="scheduler",
                    hint=f"use scheduler: auto ({p.default_scheduler} on {p.os})",
                )
    a, b = plan.nodes
    pa, pb = _platform(a), _platform(b)
    if pa != pb:
        out.add(
            "OS-2", "warning",
            f"the nodes run different Windows versions ({a.name}: {pa.display_name}, "
            f"{b.name}: {pb.display_name}); the rendered jobs will differ between them",
            field="nodes",
            hint="the guide assumes the same OS on both nodes; after an upgrade of one node, "
            "upgrade the other one too",
        )
    if any(_uses_wsb(j) for j in plan.jobs.values()):
        for n in plan.nodes:
            p = _platform(n)
            cmd = p.feature_install_hint()
            if cmd is None:
                continue
            out.add(
                "OS-3", "info",
                f"Windows Server Backup must be installed on {n.name} ({p.display_name}); it is not "
                f"by default. clpbackup checks it when it connects",
                node=n.name,
                hint=f"install it with: {cmd}",
            )


def _wsb_rules(plan: Plan, out: _Collector) -> None:
    """WSB-1 (no system recovery), WSB-2 (target not a switchover volume), WSB-3 (per-node share),
    WSB-4 (a target wbadmin accepts)."""
    sw = set(plan.cluster.switchover_volumes)
    wsb_nodes = bool(_with_tool(plan, "wbadmin"))
    for name, job in plan.jobs.items():
        for flag, switch in (("all_critical", "-allCritical"), ("system_state", "-systemState")):
            if getattr(job, flag):
                out.add(
                    "WSB-1", "error",
                    f"{flag} ({switch}) is a system recovery backup, which is not supported under "
                    "CLUSTERPRO: only user data is protected",
                    job=name, field=f"jobs.{name}.{flag}",
                    hint=f"remove {flag}; recover the system by reinstalling, then restore user data",
                )
        if not _uses_wsb(job) or not wsb_nodes:
            continue
        fld = f"jobs.{name}.target"
        target = job.target
        if target is None:
            out.add(
                "WSB-4", "error",
                "the job has no target; wbadmin start backup needs -backupTarget",
                job=name, field=fld,
                hint="set target to a network share with {node}, e.g. \\\\nas01\\backup\\{node}",
            )
            continue
        unknown = [p for p in _PLACEHOLDER.findall(target) if p != "node"]
        if unknown:
            out.add(
                "WSB-4", "error",
                f"target uses the unknown placeholder(s) {', '.join('{' + p + '}' for p in unknown)}",
                job=name, field=fld, hint="the only placeholder is {node} (the node's name)",
            )
            continue
        included = {_volume(i) for i in job.include} - {None}
        vm = _VOLUME_ONLY.match(target)
        if vm or _GUID_VOLUME.match(target):
            vol = _volume(target)
            if vol is not None and vol in sw:
                out.add(
                    "WSB-2", "error",
                    f"the target {target} is a switchover partition; it is never a backup target "
                    "(it is attached to one node at a time)",
                    job=name, field=fld,
                    hint="back up to a network share with a folder per node, e.g. \\\\nas01\\backup\\{node}",
                )
            elif vol is not None and vol in included:
                out.add(
                    "WSB-4", "error",
                    f"the target {target} is also backed up by this job; wbadmin refuses a target "
                    "that is one of the included volumes",
                    job=name, field=fld, hint="use another volume or a network share as target",
                )
            else:
                out.add(
                    "WSB-3", "warning",
                    f"the target {target} is a local volume: a backup there cannot be restored on the "
                    "other node",
                    job=name, field=fld,
                    hint="for data that must be restorable on either node, back up to a network share "
                    "with a folder per node, e.g. \\\\nas01\\backup\\{node}",
                )
        elif _UNC.match(target):
            if "{node}" not in target:
                out.add(
                    "WSB-3", "error",
                    f"the network target {target} is the same folder for both nodes; each node needs "
                    "its own folder (a backup to a share replaces the previous one)",
                    job=name, field=fld,
                    hint=f"put {{node}} in the path, e.g. {target.rstrip(chr(92))}\\{{node}}",
                )
        else:
            out.add(
                "WSB-4", "error",
                f"the target {target!r} is neither a volume (G:) nor a network share (\\\\server\\share); "
                "wbadmin accepts no folder on a local volume",
                job=name, field=fld,
                hint="use a volume letter such as G: or a share such as \\\\nas01\\backup\\{node}",
            )


def _nt_rules(plan: Plan, out: _Collector) -> None:
    """NT-3 (shared tape → the failover run appends) and an NTBackup file on the partition (WSB-2)."""
    if not _with_tool(plan, "ntbackup"):
        return
    sw = set(plan.cluster.switchover_volumes)
    for name, job in plan.jobs.items():
        nt = job.ntbackup
        if nt is None or nt.file is None:
            continue
        vol = _volume(nt.file)
        if vol is not None and vol in sw:
            out.add(
                "WSB-2", "error",
                f"the .bkf file {nt.file} is on the switchover partition {vol}; the partition is never "
                "a backup target (it is attached to one node at a time)",
                job=name, field=f"jobs.{name}.ntbackup.file",
                hint="write the .bkf file to a local volume or use a tape",
            )

    jobs = [(name, job, ntbackup_media(job)) for name, job in plan.jobs.items() if job.ntbackup is not None]
    # Daily jobs on one tape: the later one must append (/A), or it replaces the earlier one.
    for i, (n1, j1, m1) in enumerate(jobs):
        for n2, j2, m2 in jobs[i + 1:]:
            if m1 is None or m1 != m2 or m1[0] != "tape" or not (j1.daily_at and j2.daily_at):
                continue
            later_name, later = (n2, j2) if parse_hhmm(j2.daily_at) >= parse_hhmm(j1.daily_at) else (n1, j1)
            assert later.ntbackup is not None
            if not later.ntbackup.append:
                out.add(
                    "NT-3", "warning",
                    f"jobs {n1} and {n2} write to the same tape and {later_name} does not append: "
                    f"its daily run replaces what the other wrote",
                    job=later_name, field=f"jobs.{later_name}.ntbackup.append",
                    hint="set ntbackup.append: true on the later job, or give the jobs different media",
                )
    fb = plan.failover_backup
    if fb is None:
        return
    fjob = plan.jobs[fb.job]
    fm = ntbackup_media(fjob)
    if fm is None:
        return
    sharing = [name for name, job, m in jobs if job.scope == "local" and m == fm]
    if not sharing:
        return
    what = f"{fm[0]} {fm[1]!r}"
    if fm[0] == "media_pool":
        out.add(
            "NT-3", "error",
            f"the failover backup of {fb.job} and the local job(s) {', '.join(sharing)} share the "
            f"{what}; the failover run must append (/A) to keep the earlier data, and ntbackup cannot "
            "append with a media pool (/P)",
            job=fb.job, field=f"jobs.{fb.job}.ntbackup.media_pool",
            hint="give the switchover job a tape name (ntbackup.tape) or a .bkf file, or a media pool "
            "of its own",
        )
    elif fm[0] == "file":
        # ntbackup's /A works with /T (or /G) only: for a .bkf file clpbackup cannot ask for append.
        out.add(
            "NT-3", "warning",
            f"the failover backup of {fb.job} writes to the same .bkf file as {', '.join(sharing)}; "
            "ntbackup has no append switch for a file (/A needs a tape name), so clpbackup cannot "
            "make the failover run keep the earlier backup in it",
            job=fb.job, field=f"jobs.{fb.job}.ntbackup.file",
            hint="give the switchover job a .bkf file of its own, or write both jobs to a named tape",
        )
    elif fb.append is False:
        out.add(
            "NT-3", "error",
            f"the failover backup of {fb.job} shares the {what} with {', '.join(sharing)} but "
            "failover_backup.append is false: the failover run would overwrite that data",
            job=fb.job, field="failover_backup.append",
            hint="remove append: false (the failover run then uses /A)",
        )
    else:
        out.add(
            "NT-3", "info",
            f"the failover backup of {fb.job} shares the {what} with {', '.join(sharing)}: the failover "
            "run appends (/A) so the earlier data on the media is kept",
            job=fb.job,
        )


def _schedule_rules(plan: Plan, out: _Collector) -> None:
    """SCH-2 (standby after active), SCH-3 (failover backup does not collide), SCH-4 (Schedule service)."""
    for name, job in plan.jobs.items():
        if job.standby_at is None:
            continue
        fld = f"jobs.{name}.standby_at"
        if job.daily_at is None:
            out.add(
                "SCH-2", "error",
                "standby_at is set but daily_at is not; standby_at is the standby's daily start",
                job=name, field=fld, hint="set daily_at (the home node's start) or remove standby_at",
            )
        elif job.scope == "local":
            out.add(
                "SCH-2", "warning",
                f"standby_at is ignored for a local job: it runs at {job.daily_at} on both nodes (SCH-1)",
                job=name, field=fld, hint="remove standby_at",
            )
    for name, job in plan.jobs.items():
        if job.scope != "switchover" or job.daily_at is None:
            continue
        home = parse_hhmm(job.daily_at)
        need = job.duration_minutes + SCH2_MARGIN_MINUTES
        earliest = earliest_standby_start(plan, name)
        if job.standby_at is not None:
            offset = (parse_hhmm(job.standby_at) - home) % _DAY
            if offset < need:
                out.add(
                    "SCH-2", "error",
                    f"standby_at {job.standby_at} starts the standby's run before the home node's run "
                    f"is expected to end ({job.daily_at} + {job.duration_minutes} min + "
                    f"{SCH2_MARGIN_MINUTES} min margin = {earliest})",
                    node=plan.standby_node.name, job=name, field=f"jobs.{name}.standby_at",
                    hint=f"set standby_at to {earliest} or later, or remove it "
                    f"(clpbackup then uses {earliest})",
                )
                continue
            late = offset - need
            if late > _DAY // 2:
                # Modulo a day every time is "after" the home run; a pin more than 12 h after the
                # earliest start reads as one *before* the home run, and leaves a failover during the
                # home run without a backup for most of a day.
                out.add(
                    "SCH-2", "warning",
                    f"standby_at {job.standby_at} comes before the home node's run at {job.daily_at} "
                    f"rather than after it: the standby's run starts {late // 60} h {late % 60} min "
                    f"after the earliest start {earliest}",
                    node=plan.standby_node.name, job=name, field=f"jobs.{name}.standby_at",
                    hint=f"schedule the standby's run shortly after {earliest}, or remove standby_at",
                )
            offset_end = offset + job.duration_minutes
        else:
            offset_end = need + job.duration_minutes
        if offset_end > _DAY:
            out.add(
                "SCH-2", "warning",
                f"the standby's run (from {standby_start(plan, name)}, {job.duration_minutes} min) is "
                f"still expected to run when the home node's next run starts at {job.daily_at}",
                node=plan.standby_node.name, job=name, field=f"jobs.{name}.expected_duration",
                hint="a switchover job must fit twice in a day, once per node; shorten it or split it",
            )

    fb = plan.failover_backup
    if fb is not None and fb.at != "now":
        start = parse_hhmm(fb.at)
        dur = plan.jobs[fb.job].duration_minutes
        for node, name, wstart, wdur in _windows(plan):
            if _overlap(start, dur, wstart, wdur):
                out.add(
                    "SCH-3", "error",
                    f"the failover backup at {fb.at} ({_span(start, dur)}, the run of {fb.job}) overlaps "
                    f"the daily run of {name} on {node} ({_span(wstart, wdur)})",
                    node=node, job=name, field="failover_backup.at",
                    hint="choose a failover_backup.at outside every daily window, or at: now",
                )

    uses_at = [
        n for n in plan.nodes
        if scheduler_for(plan, n) == "at"
        and (any(j.daily_at for j in plan.jobs.values()) or (fb is not None and fb.at != "now"))
    ]
    for at_node in _per_node(plan, uses_at) if uses_at else []:
        out.add(
            "SCH-4", "info",
            "AT jobs run only when the Task Scheduler (Schedule) service is running and set to start "
            "automatically; clpbackup checks it when it connects",
            node=at_node,
            hint="Services → Task Scheduler (Schedule) → Startup type: Automatic",
        )



def _connection_field(plan: Plan, n: Node, name: str) -> str:
    """The plan field that set ``connection.<name>`` for node ``n``: its own override, or the default."""
    if n.connection is not None and getattr(n.connection, name) is not None:
        return f"{_node_field(plan, n)}.connection.{name}"
    return f"connection.{name}"


def _insecure_consequence(allow_insecure: bool) -> str:
    """What SEC-1's warnings say happens to an insecure connection setting."""
    if allow_insecure:
        return "allow_insecure: true lets it through"
    return "clpbackup refuses to connect so (allow_insecure is false)"


def _sec_rules(plan: Plan, out: _Collector) -> None:
    """SEC-1: no password on the wire in clear, none inside a job value."""
    for n in plan.nodes:
        conn = plan.connection_for(n)
        if conn.auth == "basic" and not conn.ssl:
            fld = _connection_field(plan, n, "auth")
            consequence = _insecure_consequence(conn.allow_insecure)
            out.add(
                "SEC-1", "warning",
                f"auth: basic without ssl sends the password over the network unencrypted; {consequence}",
                node=n.name, field=fld,
                hint="set ssl: true (HTTPS, port 5986) or use negotiate / ntlm / kerberos",
            )
        if conn.auth in ("basic", "credssp") and conn.ssl and conn.cert_validation is False:
            fld = _connection_field(plan, n, "cert_validation")
            consequence = _insecure_consequence(conn.allow_insecure)
            out.add(
                "SEC-1", "warning",
                f"auth: {conn.auth} gives the node the password, and cert_validation: false lets any "
                f"peer pose as the node; {consequence}",
                node=n.name, field=fld,
                hint="give the CA bundle of the nodes' certificates (cert_validation: /path/ca.pem) or "
                "use negotiate / kerberos / ntlm",
            )
    for fld, value in _job_strings(plan):
        if _PASSWORDISH.search(value):
            out.add(
                "SEC-1", "error",
                "the value looks like it carries a password switch (/RP, -password: …); a password "
                "would end up in clear in a batch file on the node",
                job=fld.split(".")[1] if fld.startswith("jobs.") else None, field=fld,
                hint="remove it: scheduled tasks run as SYSTEM, and a share's credentials belong to the "
                "node's account, not to the plan",
            )


def _job_strings(plan: Plan) -> Iterator[tuple[str, str]]:
    """(field, value) of every free-text value that ends up in a file or command on a node."""
    yield "scripts_dir", plan.scripts_dir
    if plan.cluster.start_script is not None:
        yield "cluster.start_script", plan.cluster.start_script
    for name, job in plan.jobs.items():
        for i, v in enumerate(job.include):
            yield f"jobs.{name}.include[{i}]", v
        for i, v in enumerate(job.exclude):
            yield f"jobs.{name}.exclude[{i}]", v
        if job.target is not None:
            yield f"jobs.{name}.target", job.target
        if job.ntbackup is not None:
            for key in ("media_pool", "tape", "file", "library", "description"):
                v = getattr(job.ntbackup, key)
                if v is not None:
                    yield f"jobs.{name}.ntbackup.{key}", v


def _batch_bound(plan: Plan, field: str) -> bool:
    """Is the value of ``field`` written into a batch file (and so into the node's code page)?"""
    if field == "cluster.start_script":
        return False  # used as a path by PowerShell only
    parts = field.split(".")
    if parts[0] == "jobs":
        job = plan.jobs[parts[1]]
        if job.ntbackup is not None and parts[2].startswith(("include", "exclude")):
            return False  # NTBackup selections go to the .bks file, which is UTF-16
    return True


def _quote_rules(plan: Plan, out: _Collector) -> None:
    """QUOTE: every value can be carried into the node's batch files and command lines."""
    flagged: set[str] = set()
    if importlib.util.find_spec("clpbackup.winquote") is not None:
        from clpbackup import winquote

        for fld, value in _job_strings(plan):
            nodes: list[Node | None] = list(plan.nodes) if _batch_bound(plan, fld) else [None]
            for node in nodes:
                text = value.replace("{node}", node.name) if node is not None else value
                try:
                    winquote.check_value(
                        text, field=fld, codepage=plan.codepage_for(node) if node is not None else None
                    )
                except QuotingError as exc:
                    if fld in flagged:
                        break
                    flagged.add(fld)
                    out.add(
                        "QUOTE", "error", exc.message,
                        node=node.name if node is not None and _node_specific(plan) else None,
                        job=fld.split(".")[1] if fld.startswith("jobs.") else None,
                        field=fld, hint=exc.hint or "",
                    )
                    break
    if importlib.util.find_spec("clpbackup.render") is None:
        return  # rendering is not available in this build: the checks above are all there is
    from clpbackup.render import render_plan  # type: ignore[import-not-found, unused-ignore]

    errors_before = out.has_errors()
    # Render each node on its own (a refusal on one node must not hide the other's), then report a
    # refusal once, naming the node only when the other node rendered that value fine.
    refusals: dict[tuple[str, str, str | None], tuple[ClpBackupError, list[str]]] = {}
    for n in plan.nodes:
        try:
            render_plan(plan, node=n.name)
        except QuotingError as exc:
            if exc.field is not None and _unindexed(exc.field) in {_unindexed(f) for f in flagged}:
                continue  # the value check above already reported this field
            key = ("QUOTE", exc.message, exc.field)
            refusals.setdefault(key, (exc, []))[1].append(n.name)
        except ClpBackupError as exc:
            # Rendering refuses what the rules above already report as errors (a WSB job on 2003 …);
            # only a refusal no rule explains is reported, so nothing is silently accepted.
            if not errors_before:
                key = ("RENDER", exc.message, getattr(exc, "field", None))
                refusals.setdefault(key, (exc, []))[1].append(n.name)
    for (rule, message, refused_field), (refusal, names) in refusals.items():
        job = refused_field.split(".")[1] if refused_field and refused_field.startswith("jobs.") else None
        where: list[str | None] = list(names) if len(names) < len(plan.nodes) else [None]
        for node_name in where:
            out.add(rule, "error", message, node=node_name, job=job, field=refused_field,
                    hint=refusal.hint or "")


def _unindexed(field: str) -> str:
    """``jobs.a.include[0]`` → ``jobs.a.include`` (render names a list, the value check an item)."""
    return re.sub(r"\[\d+\]", "", field)


def _node_specific(plan: Plan) -> bool:
    """Do the two nodes differ in code page (so a code-page finding is about one node)?"""
    a, b = plan.nodes
    return plan.codepage_for(a) != plan.codepage_for(b)


def _failover_rules(plan: Plan, out: _Collector) -> None:
    """FO-1 / FO-2: the failover backup the guide requires, and how it is started."""
    fb = plan.failover_backup
    if fb is None:
        sw = plan.switchover_jobs()
        example = f"failover_backup: {{job: {sw[0]}, at: now}}" if sw else (
            "a scope: switchover job and failover_backup: {job: <it>, at: now}"
        )
        out.add(
            "FO-2", "warning",
            "no failover_backup: after a failover the switchover partition is not backed up on the "
            "new owner, and a restore would need the other node's media; the guide requires one",
            field="failover_backup",
            hint=f"add {example}",
        )
        return
    when = "at once" if fb.at == "now" else f"at {fb.at}"
    out.add(
        "FO-2", "info",
        f"after a failover the node that takes the group over backs up {fb.job} once, {when}"
        + (" (full backup, /M normal)" if plan.jobs[fb.job].ntbackup is not None else ""),
        job=fb.job,
    )
    if plan.cluster.start_script:
        how = f"deploy keeps a delimited block in {plan.cluster.start_script}"
    else:
        how = "cluster.start_script is not set: deploy shows the fragment to paste into the start script"
    out.add(
        "FO-1", "info",
        "the CLUSTERPRO start script launches the failover script with START when CLP_EVENT is "
        f"FAILOVER, so it returns at once; {how}",
        hint="" if plan.cluster.start_script else "set cluster.start_script to let deploy manage the block",
    )


def _explain(plan: Plan, out: _Collector) -> None:
    """JOB-3, JOB-5 and the cautions CAU-1..3 (nothing to fix; report them)."""
    for name in plan.switchover_jobs():
        out.add(
            "JOB-3", "info",
            "on the node without the switchover partition this job fails; that is expected and its "
            "schedule stays valid for after a failover (status shows 'expected: partition not attached')",
            job=name,
        )
    if plan.switchover_jobs():
        out.add(
            "JOB-5", "info",
            "clpbackup's batch files name the switchover volume directly, so deploying the switchover "
            "job does not need the partition on each node (no switching during setup)",
        )
    out.add(
        "CAU-1", "info",
        "without CLUSTERPRO running nothing controls access to the shared disk: detach it physically "
        "before a system recovery",
    )
    out.add("CAU-2", "info", "establish and rehearse the recovery procedure before going live")
    out.add(
        "CAU-3", "info",
        "after a system recovery the switchover partition's drive letter and GUID are not restored: "
        "set them again in CLUSTERPRO",
    )


def _drill_rules(plan: Plan, out: _Collector) -> None:
    """DRILL-2: the weekly drill task checks only what it can (wbadmin, a canary), and never runs
    while a backup may run on either node (wbadmin runs one operation at a time)."""
    drill = plan.drill
    if drill is None:
        return
    if drill.jobs is not None:
        for i, name in enumerate(drill.jobs):
            why = drill_refusal(plan, name)
            if why is not None:
                out.add(
                    "DRILL-2", "error", f"the weekly drill cannot check {name}: {why}",
                    job=name, field=f"drill.jobs[{i}]",
                    hint="remove it from drill.jobs (clpbackup drill reports what it can for it: "
                    "on 2003 the newest set in NTBackup's log)",
                )
    else:
        skipped = [(j, why) for j in plan.jobs if (why := drill_refusal(plan, j)) is not None]
        if len(skipped) == len(plan.jobs):
            out.add(
                "DRILL-2", "error",
                "the weekly drill can check none of the plan's jobs: "
                + "; ".join(why for _, why in skipped),
                field="drill",
                hint="remove the drill option (clpbackup drill still reports what it can)",
            )
            return
        for name, why in skipped:
            out.add(
                "DRILL-2", "info", f"not drilled weekly: {why}", job=name, field="drill.jobs",
                hint="list the jobs to drill under drill.jobs to make this choice explicit",
            )
    starts = weekly_drill_starts(plan)
    windows = list(_windows(plan))
    fb = plan.failover_backup
    if fb is not None and fb.at != "now":
        # the failover one-shot runs on whichever node owns the partition after a failover (FO-2)
        dur = plan.jobs[fb.job].duration_minutes
        windows += [(n.name, f"{fb.job} (failover backup)", parse_hhmm(fb.at), dur) for n in plan.nodes]
    day = drill.weekly.day
    for name, at in starts.items():
        start = parse_hhmm(at)
        for node, other, wstart, wdur in windows:
            if not _overlap(start, DRILL_SLOT_MINUTES, wstart, wdur):
                continue
            first = "" if at == drill.weekly.at else (
                f" ({DRILL_SLOT_MINUTES} min after the drill before it)"
            )
            out.add(
                "DRILL-2", "error",
                f"the weekly drill of {name} on {day} at {at}{first} "
                f"({_span(start, DRILL_SLOT_MINUTES)}) falls inside the run of {other} on {node} "
                f"({_span(wstart, wdur)}); wbadmin runs one operation at a time",
                node=node, job=name, field="drill.weekly.at",
                hint="choose a drill.weekly.at outside every backup window of both nodes "
                "(clpbackup render --timeline shows them)",
            )
            break


_RULES = (
    _job2_job4,
    _systemstate,
    _ntbackup_descriptions,
    _os_rules,
    _wsb_rules,
    _nt_rules,
    _schedule_rules,
    _sec_rules,
    _quote_rules,
    _failover_rules,
    _drill_rules,
    _explain,
)


def check(plan: Plan) -> list[Finding]:
    """Check ``plan`` against every rule that can be checked offline.

    Returns the findings, errors first, then warnings, then info; within a severity in the order the
    rules run (the same plan always gives the same list).
    """
    out = _Collector()
    for rule in _RULES:
        rule(plan, out)
    return sorted(out.items, key=lambda f: _RANK[f.severity])


def raise_for_errors(findings: list[Finding]) -> None:
    """Raise :class:`PlanError` listing the error findings (with their rule IDs), if there are any.

    The error carries every finding (errors first) in ``findings``.
    """
    errors = [f for f in findings if f.severity == "error"]
    if not errors:
        return
    shown = "; ".join(str(f) for f in errors[:5])
    more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
    rules = ", ".join(dict.fromkeys(f.rule for f in errors))
    raise PlanError(
        f"the plan breaks {len(errors)} rule check(s) ({rules}): {shown}{more}",
        findings=sorted(findings, key=lambda f: _RANK[f.severity]),
        hint="run 'clpbackup validate PLAN' for the full list",
    )
