"""The interface every OS family implements, and what they share (schtasks, AT).

A :class:`Platform` turns plan values into :class:`~clpbackup.commands.Command` objects (argv
lists, never strings) for one Windows Server version: the backup tool (NTBackup + rsm on 2003,
wbadmin from 2008 on), the schedulers (``schtasks`` and ``AT`` — both on every OS; on 2012 AT is
deprecated and rules report that) and restore helpers. Combinations the tool or the operating rules
do not allow are refused with :class:`~clpbackup.errors.UnsupportedError` naming the rule, as a last
line of defence behind :mod:`clpbackup.rules`. Pure: no I/O.
"""

from __future__ import annotations

import base64
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from clpbackup.commands import Command
from clpbackup.errors import PlanError, QuotingError, UnsupportedError
from clpbackup.plan import WEEKDAYS, parse_hhmm
from clpbackup.winquote import check_value, cmd_c_path, ps_literal

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.plan import Job

Scheduler = Literal["at", "schtasks"]
BackupTool = Literal["ntbackup", "wbadmin"]

#: ``at /every:`` days for a daily job (at.exe's own abbreviations).
AT_EVERY_DAY: tuple[str, ...] = ("M", "T", "W", "Th", "F", "S", "Su")

#: schtasks refuses a longer ``/TR`` (the ja-JP message says 261; the docs say 262).
TR_MAX = 261
#: schtasks ``/TN`` limit.
TN_MAX = 238

_TASK_NAME_FORBIDDEN = frozenset('/:*?"<>|')
_VERSION_ID = re.compile(r"^(0[1-9]|1[0-2])/(0[1-9]|[12]\d|3[01])/\d{4}-([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class FeatureHint:
    """How to install Windows Server Backup on a node (rule OS-3).

    ``command`` is what the operator types; ``shell`` says where (``cmd`` or ``powershell``);
    ``feature`` is the feature name; ``core`` is the Server Core alternative when there is one.
    """

    command: str
    shell: Literal["cmd", "powershell"]
    feature: str
    core: str | None = None

    def __str__(self) -> str:
        text = f"{self.command}  ({self.shell})"
        if self.core:
            text += f"; on Server Core: {self.core}"
        return text


@dataclass(frozen=True)
class RestoreSteps:
    """Commands to run and the steps an operator does by hand to restore (RS-1, RS-2)."""

    commands: tuple[Command, ...]
    steps: tuple[str, ...]


def run_batch(path: str, *, field: str | None = "scripts_dir") -> str:
    """The command a scheduler runs for a batch file: ``cmd /c "<path>"``.

    AT does not start cmd.exe by itself, so batch files always go through ``cmd /c``; clpbackup
    uses the same text for schtasks, so both schedulers show the same command for a job.
    """
    cmd_c_path(path, field=field)
    return f'cmd /c "{path}"'


def run_batch_command(path: str, os: str, *, field: str | None = "scripts_dir") -> Command:
    """A :class:`Command` that runs a batch file at once: ``cmd /c "<path>"``."""
    cmd_c_path(path, field=field)
    return Command(("cmd", "/c", path), os, field=field, raw_tail=f'/c "{path}"')


#: First line of the script :meth:`Platform.schtasks_once_next` runs (the simulator knows it by this).
ONCE_SCRIPT_MARKER = "# clpbackup-op: schedule-once v1"

# PowerShell 2.0. Task Scheduler 2.0 takes the start as StartBoundary in ISO 8601 (locale-free);
# schtasks /SD would need the node's short-date format, and /ST alone means today, which never runs
# once that time has passed (schtasks only warns). Values are single-quoted literals (ps_literal).
_ONCE_SCRIPT = """{marker}
$ErrorActionPreference = 'Stop'
trap {{ [Console]::Error.WriteLine('FO-2: ' + $_.Exception.Message); exit 1 }}
$name = {name}
$at = {at}
$path = {path}
$arguments = {arguments}
$now = Get-Date
$hm = $at.Split(':')
$next = $now.Date.AddHours([int]$hm[0]).AddMinutes([int]$hm[1])
if ($next -le $now) {{ $next = $next.AddDays(1) }}
$service = New-Object -ComObject Schedule.Service
$service.Connect()
$task = $service.NewTask(0)
$trigger = $task.Triggers.Create(1)
$invariant = [Globalization.CultureInfo]::InvariantCulture
$trigger.StartBoundary = $next.ToString('yyyy-MM-dd''T''HH:mm:ss', $invariant)
$action = $task.Actions.Create(0)
$action.Path = $path
$action.Arguments = $arguments
$null = $service.GetFolder('\').RegisterTaskDefinition($name, $task, 6, 'SYSTEM', $null, 5)
[Console]::Out.WriteLine('SUCCESS: ' + $name + ' ' + $trigger.StartBoundary)
exit 0
"""


def once_script(name: str, at: str, program: str, arguments: str) -> str:
    """The PowerShell 2.0 text that registers task ``name`` (as SYSTEM) to run ``program arguments``
    once, at the next ``at`` (``HH:MM``) on the node's clock: today if that is still ahead, else
    tomorrow (FO-2, FB-1)."""
    return _ONCE_SCRIPT.format(
        marker=ONCE_SCRIPT_MARKER,
        name=ps_literal(name),
        at=ps_literal(at),
        path=ps_literal(program),
        arguments=ps_literal(arguments),
    )


def _time(value: str, field: str) -> int:
    try:
        return parse_hhmm(value)
    except ValueError as exc:
        raise PlanError(str(exc), field=field) from None


class Platform(ABC):
    """One Windows Server version: its facts, its backup tool, its schedulers and its restore helpers.

    The one source of OS facts: callers outside :mod:`clpbackup.platforms` ask the platform of a
    node (``get_platform(node.os)``) instead of testing the OS string. Every fact below is declared
    by each registered platform (``tests/unit/test_platform_contract.py`` checks that each one
    answers every question in the documented shape).
    """

    #: The plan's ``nodes[].os`` for this platform, e.g. ``"2008R2"`` (a key of ``PLATFORMS``).
    os: ClassVar[str]
    #: What messages and listings call it, always ``"Windows Server <version>"``, e.g.
    #: ``"Windows Server 2008 R2"``.
    display_name: ClassVar[str]
    #: ``"ntbackup"`` (NTBackup + rsm, 2003) or ``"wbadmin"`` (Windows Server Backup, 2008 on).
    backup_tool: ClassVar[BackupTool]
    #: ``"at"`` or ``"schtasks"``: the scheduler NEC's guide uses on this OS (``scheduler: auto``).
    default_scheduler: ClassVar[Scheduler]
    #: ``True`` where at.exe is deprecated but still creates the job after printing a notice (2012,
    #: 2012 R2); rules warn about a plan that asks for AT there (OS-1).
    at_deprecated: ClassVar[bool]
    #: ``False`` where at.exe refuses new jobs (2016 on, unless the ``EnableAt`` registry value is
    #: set, which clpbackup does not touch): the scheduler must be schtasks there, rules refuse a
    #: plan that asks for AT (OS-1) and the AT builders below raise ``UnsupportedError``.
    at_available: ClassVar[bool]
    #: ``True`` where the backup tool selects folders and files and excludes paths, ``False`` where
    #: it backs up whole volumes only (wbadmin on 2008 RTM, OS-1).
    file_level: ClassVar[bool]
    #: The kernel versions a node of this OS reports (``ver``, WMI ``Win32_OperatingSystem.Version``)
    #: as ``"major.minor"`` (or longer, e.g. with the build), each with the product name Windows
    #: shows for it: ``{"6.2": "Windows Server 2012", "6.3": "Windows Server 2012 R2"}``; non-empty.
    kernel_versions: ClassVar[Mapping[str, str]]
    #: The files in which the backup tool itself records each run of a scheduled job (run as
    #: SYSTEM), newest not first: NTBackup's ``backup01.log`` … ``backup10.log`` in SYSTEM's
    #: profile on 2003, read to judge a run (its exit code is not trusted, NT-2); ``()`` where the
    #: tool's record is read otherwise (wbadmin: ``get versions``).
    tool_logs: ClassVar[tuple[str, ...]]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.display_name}>"

    def __eq__(self, other: object) -> bool:
        # platforms hold no state: two instances of one class are the same OS
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))

    def product_name(self, version: str) -> str | None:
        """The product name of a node reporting kernel ``version`` (``6.3.9600`` → ``"Windows Server
        2012 R2"``) when this platform runs that kernel, else ``None``."""
        parts = version.split(".")
        for key, name in self.kernel_versions.items():
            k = key.split(".")
            if len(k) >= 2 and parts[: len(k)] == k:
                return name
        return None

    def matches_kernel(self, version: str) -> bool:
        """``True`` when a node reporting kernel ``version`` (``6.1.7601``) runs this OS."""
        return self.product_name(version) is not None

    # -- Windows Server Backup feature (OS-3) ------------------------------------------------------

    @abstractmethod
    def feature_install_hint(self) -> FeatureHint | None:
        """How an operator installs Windows Server Backup here (OS-3).

        Returns a :class:`FeatureHint` — ``command`` (the text to type, e.g.
        ``"Install-WindowsFeature Windows-Server-Backup"``), ``shell`` (``"cmd"`` or
        ``"powershell"``), ``feature`` (the feature's name) and ``core`` (the Server Core command or
        ``None``) — or ``None`` where the backup tool is part of Windows (2003).
        """

    def install_command(self) -> list[str] | None:
        """The argv that installs Windows Server Backup (``deploy(install_features=True)``, OS-3).

        Built from :meth:`feature_install_hint`, so the command an operator is told to type and the
        one clpbackup runs are the same text: a ``powershell`` hint runs as
        ``["powershell", "-NoProfile", "-Command", <command>]``, a ``cmd`` hint as its words, e.g.
        ``["ServerManagerCmd", "-install", "Backup-Features"]``. ``None`` where nothing is installed.
        """
        hint = self.feature_install_hint()
        if hint is None:
            return None
        if hint.shell == "powershell":
            return ["powershell", "-NoProfile", "-Command", hint.command]
        return hint.command.split()

    # -- backup ------------------------------------------------------------------------------------

    @abstractmethod
    def backup_commands(
        self,
        job_name: str,
        job: Job,
        *,
        node: str,
        selection: str | None = None,
        failover: bool = False,
        append: bool | None = None,
    ) -> list[Command]:
        """The commands one run of ``job`` executes on ``node``, in order.

        ``selection`` is the path of the NTBackup ``.bks`` file (2003; others ignore it).
        ``failover`` asks for the one-shot full backup after a failover (FO-2: NTBackup
        ``/M normal``); ``append`` overrides the job's append setting (NT-3). ``{node}`` in a
        target expands to ``node`` (WSB-3).
        """

    # -- what render asks of the backup tool --------------------------------------------------------

    @abstractmethod
    def batch_values(self, job_name: str, job: Job) -> list[tuple[str, str | None]]:
        """The plan values this tool's commands write into the job's batch file, as
        ``[(field, value), ...]`` — e.g. ``[("jobs.data.include[0]", "E:"), ("jobs.data.target",
        "\\\\nas\\b\\{node}")]``; ``value`` is ``None`` for an unset option. Render checks each
        against the node's code page so an error names the field, not only the job.
        """

    @abstractmethod
    def selection_file(self, job_name: str, job: Job) -> bytes | None:
        """The content of the job's selection file (the exact bytes, e.g. NTBackup's ``.bks`` in
        UTF-16 LE without a BOM, CRLF), or ``None`` where the tool takes its selection on the command
        line (wbadmin). Render writes it to ``<scripts_dir>\\<job>.bks`` and passes that path as
        ``selection`` to :meth:`backup_commands`.
        """

    @abstractmethod
    def failover_commands(
        self, job_name: str, job: Job, *, node: str, selection: str | None, append: bool
    ) -> tuple[list[Command], bool]:
        """The failover run of ``job`` (FO-2) and whether it appends to the job's media (NT-3):
        ``(commands, appends)``. ``append`` is what the plan asks for the failover run; a tool that
        cannot append answers ``False``. Commands equal to :meth:`backup_commands` mean the daily
        script serves the failover run too.
        """

    @abstractmethod
    def script_rules(self, commands: Sequence[Command], *, failover: bool, appends: bool) -> list[str]:
        """The rule IDs a backup script running ``commands`` implements, in the order its header
        names them, e.g. ``["JOB-1", "JOB-2", "JOB-4", "WSB-3", "WSB-4"]`` (``failover``: the FO-2
        run; ``appends``: it appends to shared media, NT-3).
        """

    # -- schtasks ----------------------------------------------------------------------------------

    def schtasks_time(self, hhmm: str, *, field: str) -> str:
        """``/ST`` value: ``HH:mm`` (2008 and later)."""
        _time(hhmm, field)
        return hhmm

    def _task_name(self, name: str, field: str) -> str:
        check_value(name, field=field)
        bad = sorted({c for c in name if c in _TASK_NAME_FORBIDDEN})
        if not name or bad:
            raise QuotingError(
                f"task name {name!r} is empty or contains {''.join(bad)!r}",
                field=field,
                hint="task names follow file-name rules",
            )
        if len(name) > TN_MAX:
            raise QuotingError(
                f"task name is {len(name)} characters; schtasks allows at most {TN_MAX}",
                field=field,
                hint="use a shorter cluster or job name",
            )
        return name

    def check_task_run(self, run: str, *, field: str) -> str:
        """``run`` if it fits schtasks ``/TR`` (at most 261 characters), else ``QuotingError``."""
        check_value(run, field=field)
        if len(run) > TR_MAX:
            raise QuotingError(
                f"the task's command is {len(run)} characters; schtasks /TR allows at most {TR_MAX}",
                field=field,
                hint="use a shorter scripts_dir (the task runs the job's batch file)",
            )
        return run

    def schtasks_daily(self, name: str, at: str, run: str, *, field: str) -> Command:
        """``schtasks /Create /TN <name> /SC DAILY /ST <time> /TR <run> /RU SYSTEM /F``.

        Runs as SYSTEM, so no password is ever passed (SEC-1); ``/F`` replaces a task of that name.
        """
        return Command(
            (
                "schtasks", "/Create", "/TN", self._task_name(name, field), "/SC", "DAILY",
                "/ST", self.schtasks_time(at, field=field), "/TR", self.check_task_run(run, field=field),
                "/RU", "SYSTEM", "/F",
            ),
            self.os,
            field=field,
        )

    def schtasks_weekly(self, name: str, day: str, at: str, run: str, *, field: str) -> Command:
        """``schtasks /Create /TN <name> /SC WEEKLY /D <day> /ST <time> /TR <run> /RU SYSTEM /F``.

        ``day`` is one of schtasks' ``/D`` names ``MON`` … ``SUN`` (:data:`clpbackup.plan.WEEKDAYS`);
        every week (no ``/MO``), as SYSTEM (SEC-1). The weekly restore drill (DRILL-2).
        """
        if day not in WEEKDAYS:
            raise PlanError(f"{day!r} is not a schtasks /D day ({', '.join(WEEKDAYS)})", field=field)
        return Command(
            (
                "schtasks", "/Create", "/TN", self._task_name(name, field), "/SC", "WEEKLY", "/D", day,
                "/ST", self.schtasks_time(at, field=field), "/TR", self.check_task_run(run, field=field),
                "/RU", "SYSTEM", "/F",
            ),
            self.os,
            field=field,
        )

    def schtasks_once(self, name: str, at: str, run: str, *, field: str) -> Command:
        """``schtasks /Create /TN <name> /SC ONCE /ST <time> /TR <run> /RU SYSTEM /F`` — never ``/RP``
        (SEC-1). Without ``/SD`` the task is for today: a time already past does not run."""
        return Command(
            (
                "schtasks", "/Create", "/TN", self._task_name(name, field), "/SC", "ONCE",
                "/ST", self.schtasks_time(at, field=field), "/TR", self.check_task_run(run, field=field),
                "/RU", "SYSTEM", "/F",
            ),
            self.os,
            field=field,
        )

    def schtasks_once_next(self, name: str, at: str, run: str, *, field: str) -> Command:
        """A one-shot task ``name`` that runs ``run`` as SYSTEM at the next ``at`` (FO-2, FB-1).

        ``schtasks /SC ONCE /ST`` without ``/SD`` is for today, and a time already past never runs;
        ``/SD`` follows the node's short-date format. So PowerShell computes the next occurrence
        on the node and registers the task through Task Scheduler 2.0 with an ISO 8601
        StartBoundary: ``powershell -NoProfile -NonInteractive -EncodedCommand <base64>`` (the
        encoded form needs no quoting inside a batch file). The task looks as ``schtasks /Create
        /TR run`` makes it: program ``cmd``, arguments ``/c "<batch>"``.
        """
        self._task_name(name, field)
        self.schtasks_time(at, field=field)
        program, _, arguments = self.check_task_run(run, field=field).partition(" ")
        script = once_script(name, at, program, arguments)
        encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
        argv = ("powershell", "-NoProfile", "-NonInteractive", "-EncodedCommand", encoded)
        return Command(argv, self.os, field=field)

    def schtasks_delete(self, name: str, *, field: str = "jobs") -> Command:
        """``schtasks /Delete /TN <name> /F``."""
        argv = ("schtasks", "/Delete", "/TN", self._task_name(name, field), "/F")
        return Command(argv, self.os, field=field)

    def schtasks_query(self) -> Command:
        """``schtasks /Query /FO CSV /V`` (every task, verbose, CSV)."""
        return Command(("schtasks", "/Query", "/FO", "CSV", "/V"), self.os)

    def schtasks_run(self, name: str, *, field: str = "jobs") -> Command:
        """``schtasks /Run /TN <name>`` (returns at once; the task runs detached)."""
        return Command(("schtasks", "/Run", "/TN", self._task_name(name, field)), self.os, field=field)

    # -- AT ----------------------------------------------------------------------------------------

    def at_time(self, hhmm: str, *, field: str) -> str:
        """AT time: ``HH:MM`` 24 h."""
        _time(hhmm, field)
        return hhmm

    def _need_at(self, field: str) -> None:
        if not self.at_available:
            raise UnsupportedError(
                f"{field}: OS-1: at.exe creates no jobs on {self.display_name} (deprecated since "
                "Windows Server 2012, refused from 2016 on)",
                hint="use scheduler: auto or schtasks",
            )

    def _at(
        self, at: str, switches: Sequence[str], batch: str, field: str, tag: str | None = None
    ) -> Command:
        self._need_at(field)
        run = run_batch(batch, field=field)
        time = self.at_time(at, field=field)
        extra: tuple[str, ...] = ()
        if tag is not None:
            if not re.fullmatch(r"[A-Za-z0-9._-]+", tag):
                raise QuotingError(f"{tag!r} cannot mark an AT job (letters, digits, . _ -)", field=field)
            extra = (tag,)
        # at.exe takes the rest of its command line as the job's command, so it is passed as text
        # (raw_tail); argv is what CommandLineToArgvW makes of it.
        tail = " ".join([time, *switches, run, *extra])
        return Command(
            ("at", time, *switches, "cmd", "/c", batch, *extra), self.os, field=field, raw_tail=tail
        )

    def at_daily(self, at: str, batch: str, *, field: str) -> Command:
        """``at HH:MM /every:M,T,W,Th,F,S,Su cmd /c "<batch>"``."""
        return self._at(at, ["/every:" + ",".join(AT_EVERY_DAY)], batch, field)

    def at_once(self, at: str, batch: str, *, field: str, tag: str | None = None) -> Command:
        """``at HH:MM cmd /c "<batch>" [<tag>]`` (the next time the clock shows HH:MM).

        ``tag`` (letters, digits, ``. _ -``) is passed to the batch file as ``%1``, which ignores
        it: it marks the job in ``at``'s listing, where an AT job has no name (FO-2: the failover
        script looks for its own pending one-shot before it adds one)."""
        return self._at(at, [], batch, field, tag)

    def at_delete(self, job_id: int) -> Command:
        """``at <id> /delete /yes``."""
        self._need_at("at")
        if isinstance(job_id, bool) or not isinstance(job_id, int) or job_id < 1:
            raise PlanError(f"{job_id!r} is not an AT job ID", field="at")
        return Command(("at", str(job_id), "/delete", "/yes"), self.os)

    def at_query(self) -> Command:
        """``at`` (lists the AT jobs)."""
        self._need_at("scheduler")
        return Command(("at",), self.os)

    # -- restore -----------------------------------------------------------------------------------

    def get_versions(self, target: str | None = None, machine: str | None = None, *,
                     field: str = "jobs") -> Command:
        """``wbadmin get versions [-backupTarget:<t>] [-machine:<node>]`` (2008 and later)."""
        raise UnsupportedError(
            f"OS-1: wbadmin does not exist on {self.display_name}",
            hint="NTBackup media are catalogued and restored in the Backup Utility (see restore_steps)",
        )

    def start_recovery(
        self,
        version: str,
        itemtype: str,
        items: Sequence[str],
        *,
        target: str | None = None,
        machine: str | None = None,
        recovery_target: str | None = None,
        recursive: bool = False,
        overwrite: str | None = None,
        not_restore_acl: bool = False,
        skip_bad_cluster_check: bool = False,
        no_roll_forward: bool = False,
        field: str = "restore",
    ) -> Command:
        """``wbadmin start recovery …`` (2008 and later)."""
        raise UnsupportedError(
            f"OS-1: wbadmin does not exist on {self.display_name}; NTBackup restores only in its GUI",
            hint="see restore_steps() for the catalog step (RS-2) and the steps in the Backup Utility",
        )

    def restore_steps(self, library: str | None = None, *, field: str = "jobs") -> RestoreSteps:
        """Commands and manual steps to prepare a restore (RS-1, RS-2)."""
        raise UnsupportedError(f"restore_steps is for NTBackup (2003), not {self.display_name}")


def check_version_id(version: str, *, field: str) -> str:
    """A wbadmin version identifier ``MM/DD/YYYY-HH:MM`` (UTC), else ``PlanError``."""
    if not _VERSION_ID.match(version):
        raise PlanError(
            f"{version!r} is not a wbadmin version identifier MM/DD/YYYY-HH:MM",
            field=field,
            hint="take it from 'wbadmin get versions' (Version identifier)",
        )
    return version
