"""Windows Server 2003: NTBackup with Removable Storage (``rsm``); AT by default (NEC's guide).

NTBackup has no restore on its command line: restores are done in the Backup Utility, after the
media are catalogued (RS-2). Its switches exclude each other in ways the tool does not always
report clearly, so the builder refuses those combinations (windows-tools.md §4, §9).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from clpbackup.commands import Command
from clpbackup.errors import PlanError, QuotingError, UnsupportedError
from clpbackup.platforms.base import BackupTool, FeatureHint, Platform, RestoreSteps, Scheduler, _time
from clpbackup.winquote import argument_string, check_value

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.plan import Job

#: Where NTBackup writes its logs when a scheduled job runs it as SYSTEM: SYSTEM's profile
#: (``%SystemRoot%\system32\config\systemprofile``, with Windows in its default ``C:\WINDOWS``),
#: then ``Local Settings\Application Data\Microsoft\Windows NT\NTBackup\data``. The folder names
#: are English on disk on en-US and ja-JP alike (docs/windows-facts.md, "NTBackup (2003)").
NTBACKUP_LOG_DIR = (
    "C:\\WINDOWS\\system32\\config\\systemprofile\\Local Settings\\Application Data"
    "\\Microsoft\\Windows NT\\NTBackup\\data"
)
NTBACKUP_TYPES = ("normal", "copy", "differential", "incremental", "daily")
NTBACKUP_LOG = ("f", "s", "n")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _no_quote(value: str, what: str, field: str) -> str:
    check_value(value, field=field)
    if '"' in value or not value:
        raise QuotingError(
            f"{what} {value!r} is empty or contains a double quote",
            field=field,
            hint=f"NTBackup and rsm read the {what} between double quotes; remove the quote",
        )
    return value


def bks_line(item: str) -> str:
    """The ``.bks`` line of one plan include/exclude item, as NTBackup writes it: a drive ``E:`` is
    ``E:\\``, ``systemstate`` is ``SystemState``; anything else is written as the plan gives it — a
    folder ends with ``\\``, a line without it names a file (and every file of that name in the
    subtree). Which one an item is, the plan says; deploy checks it against the node
    (:func:`clpbackup.nodestate.selection_problems`)."""
    if len(item) == 2 and item[1] == ":":
        return item + "\\"
    if item.strip().lower() == "systemstate":
        return "SystemState"
    return item


class Win2003(Platform):
    """Windows Server 2003 (and 2003 R2): ntbackup + rsm."""

    os: ClassVar[str] = "2003"
    display_name: ClassVar[str] = "Windows Server 2003"
    backup_tool: ClassVar[BackupTool] = "ntbackup"
    default_scheduler: ClassVar[Scheduler] = "at"
    at_deprecated: ClassVar[bool] = False
    at_available: ClassVar[bool] = True
    #: the .bks selection names folders and files, with ``/exclude`` lines
    file_level: ClassVar[bool] = True
    tool_logs: ClassVar[tuple[str, ...]] = tuple(
        f"{NTBACKUP_LOG_DIR}\\backup{i:02d}.log" for i in range(1, 11)
    )
    kernel_versions: ClassVar[Mapping[str, str]] = {"5.2": "Windows Server 2003"}

    def feature_install_hint(self) -> FeatureHint | None:
        """``None``: NTBackup is part of Windows Server 2003."""
        return None

    def schtasks_time(self, hhmm: str, *, field: str) -> str:
        """``/ST`` on 2003 is ``HH:MM:SS`` (windows-tools.md §9)."""
        _time(hhmm, field)
        return hhmm + ":00"

    def schtasks_once_next(self, name: str, at: str, run: str, *, field: str) -> Command:
        """Refused (FO-2): Task Scheduler 1.0 has no locale-free start date (no Task Scheduler 2.0
        API, no ``/XML``), ``/SD`` follows the node's short-date format and ``/ST`` alone is today,
        which never runs once that time has passed. AT runs at the next occurrence."""
        raise UnsupportedError(
            f"FO-2 ({field}, scheduler): on {self.display_name} a one-shot at {at} cannot be given "
            "the next date with schtasks (it would be for today, and never run after that time)",
            hint="use scheduler: at (NEC's guide on 2003), or failover_backup.at: now",
        )

    # -- tools ---------------------------------------------------------------------------------------

    def rsm_refresh(self, library: str, *, field: str) -> Command:
        """``rsm refresh /LF"<library>"`` (NT-1). rsm does not use the MSVCRT rules: the name follows
        ``/LF`` with no space, in quotes, so the text is carried as ``raw_tail``."""
        _no_quote(library, "library name", field)
        if library.endswith("\\"):
            # Under the C runtime's rules (CommandLineToArgvW, "Parsing C command-line arguments") a
            # backslash before the closing quote escapes it, so rsm would read '..\\"' and the rest of
            # the line as the name; whether rsm.exe parses its line that way is not documented, and
            # doubling the backslash would be wrong if it does not. Neither reading is safe: refused.
            raise QuotingError(
                f"library name {library!r} ends with a backslash",
                field=field,
                hint='rsm reads the name between the quotes of /LF"…"; a backslash just before the closing '
                "quote would escape it. Write the library's friendly name as `rsm view /tlibrary` shows "
                "it, without the trailing backslash",
            )
        return Command(
            ("rsm", "refresh", "/LF" + library), self.os, field=field, raw_tail=f'refresh /LF"{library}"'
        )

    def ntbackup_backup(
        self,
        selection: str,
        *,
        job: str,
        field: str,
        media_pool: str | None = None,
        guid: str | None = None,
        tape: str | None = None,
        media_name: str | None = None,
        file: str | None = None,
        append: bool = False,
        description: str | None = None,
        verify: bool = False,
        restrict_access: bool = False,
        log: str = "f",
        type: str = "normal",
        backup_rsm_database: bool = False,
        hardware_compression: bool = True,
        snapshot: bool | None = None,
        unmanaged: bool | None = None,
        systemstate: bool = False,
    ) -> Command:
        """``ntbackup backup "@<bks>" /J "<job>" <media> [/A] /V /R /L /M /RS /HC [/SNAP]`` (NT-2).

        ``<media>`` is ``/P "<pool>" /UM``, ``/G "<guid>"``, ``/T "<tape>"`` (with ``/N`` to name new
        media) or ``/F "<file.bkf>"``. ``/V /R /L /M /RS /HC`` are always passed: omitted ones fall back
        to whatever the Backup Utility GUI last used. Refused (UnsupportedError): ``/P`` with ``/A /G
        /F /T``; ``/F`` with ``/G /T``; ``/N`` with ``/A``; ``/A`` without ``/G`` or ``/T``; ``/UM``
        without ``/P``; system state with a type other than normal or copy; no media at all.
        """
        def refuse(msg: str, hint: str) -> UnsupportedError:
            return UnsupportedError(f"{field}: NT-2: {msg}", hint=hint)

        if unmanaged is None:
            unmanaged = media_pool is not None
        if media_pool is not None and (append or guid or file or tape):
            raise refuse("ntbackup /P (media pool) cannot be combined with /A, /G, /F or /T",
                         "use a media pool with /UM, or name a tape (/T) to append to")
        if file is not None and (guid or tape):
            raise refuse("ntbackup /F (file) cannot be combined with /P, /G or /T",
                         "back up either to a .bkf file or to tape")
        if media_name is not None and append:
            raise refuse("ntbackup /N (new media name) cannot be combined with /A (append)",
                         "appending keeps the media's name; leave /N out")
        if append and not (guid or tape):
            raise refuse("ntbackup /A (append) needs /G or /T (the tape to append to)",
                         "NT-3: give the tape name (ntbackup.tape) to append to a shared tape")
        if unmanaged and media_pool is None:
            raise refuse("ntbackup /UM (unmanaged media) is used with /P (media pool)", "give media_pool")
        if not (media_pool or guid or tape or file):
            raise refuse("ntbackup needs a destination: /P, /G, /T or /F", "give media_pool, tape or file")
        if type not in NTBACKUP_TYPES:
            raise refuse(f"/M {type!r} is not one of {', '.join(NTBACKUP_TYPES)}",
                         "use normal for a full backup")
        if log not in NTBACKUP_LOG:
            raise refuse(f"/L:{log} is not one of f, s, n", "use f (full), s (summary) or n (none)")
        if systemstate and type not in ("normal", "copy"):
            raise refuse("a system state backup must be of type normal or copy", "use /M normal")

        _no_quote(selection, "selection file", field)
        _no_quote(job, "job name", field)
        tail: list[str] = ["backup"]
        quoted: set[int] = set()

        def value(switch: str | None, text: str) -> None:
            if switch is not None:
                tail.append(switch)
            quoted.add(len(tail))
            tail.append(text)

        if systemstate:
            tail.append("systemstate")
        value(None, "@" + selection)
        value("/J", job)
        if media_pool is not None:
            value("/P", _no_quote(media_pool, "media pool", field))
            if unmanaged:
                tail.append("/UM")
        if guid is not None:
            value("/G", _no_quote(guid, "media GUID", field))
        if tape is not None:
            value("/T", _no_quote(tape, "tape name", field))
        if media_name is not None:
            value("/N", _no_quote(media_name, "media name", field))
        if file is not None:
            value("/F", _no_quote(file, "backup file", field))
        if append:
            tail.append("/A")
        if description is not None:
            value("/D", _no_quote(description, "description", field))
        tail += [
            f"/V:{_yes(verify)}", f"/R:{_yes(restrict_access)}", f"/L:{log}", "/M", type,
            f"/RS:{_yes(backup_rsm_database)}", f"/HC:{_on(hardware_compression)}",
        ]
        if snapshot is not None:
            tail.append(f"/SNAP:{_on(snapshot)}")
        # ntbackup is always called with its values in quotes ("@x.bks" /J "job" /P "pool"), as in
        # NEC's guide and every real script: quote them even without spaces.
        raw = argument_string(tail, always_quote=quoted, field=field)
        return Command(("ntbackup", *tail), self.os, field=field, raw_tail=raw)

    # -- the job -------------------------------------------------------------------------------------

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
        """``rsm refresh`` (when the job names a library, NT-1) then ``ntbackup backup`` (NT-2).

        The failover run is a full backup (``/M normal``, FO-2). Appending (NT-3) needs a tape
        name: with a media pool it is refused; with a ``.bkf`` file no ``/A`` is passed, since
        ntbackup's ``/A`` works with ``/G``/``/T`` only and an existing ``.bkf`` is appended to.
        """
        field = f"jobs.{job_name}"
        opts = job.ntbackup
        if opts is None:
            raise PlanError(
                "Windows Server 2003 backs up with NTBackup: the job has no ntbackup settings",
                field=f"{field}.ntbackup",
                hint="give ntbackup: {media_pool: ...} (or tape / file) for this job",
            )
        if selection is None:
            raise PlanError("NTBackup needs the path of the job's .bks selection file", field=field)
        want_append = opts.append if append is None else append
        if want_append and opts.media_pool is not None:
            raise UnsupportedError(
                f"{field}.ntbackup: NT-3: appending to the shared tape needs a tape name (/T); "
                "with a media pool (/P) ntbackup cannot append",
                hint="set ntbackup.tape instead of media_pool, or use a .bkf file",
            )
        file = opts.file.replace("{node}", node) if opts.file else None
        commands: list[Command] = []
        if opts.library:
            commands.append(self.rsm_refresh(opts.library, field=f"{field}.ntbackup.library"))
        commands.append(
            self.ntbackup_backup(
                selection,
                job=job_name,
                field=f"{field}.ntbackup",
                media_pool=opts.media_pool,
                tape=opts.tape,
                file=file,
                append=bool(want_append and opts.tape),
                # /D names the job in every set NTBackup logs: how status tells its runs apart
                description=opts.description or job_name,
                verify=opts.verify,
                restrict_access=opts.restrict_access,
                log=opts.log,
                type="normal" if failover else opts.type,
                backup_rsm_database=opts.backup_rsm_database,
                hardware_compression=opts.hardware_compression,
                snapshot=opts.snapshot,
            )
        )
        return commands

    # -- what render asks --------------------------------------------------------------------------

    def batch_values(self, job_name: str, job: Job) -> list[tuple[str, str | None]]:
        """The ``ntbackup`` block's names written into the batch file (media pool, tape, file,
        library, description); the selection itself goes into the ``.bks`` file."""
        nt = job.ntbackup
        if nt is None:
            return []
        return [
            (f"jobs.{job_name}.ntbackup.{attr}", getattr(nt, attr))
            for attr in ("media_pool", "tape", "file", "library", "description")
        ]

    def selection_file(self, job_name: str, job: Job) -> bytes:
        """The ``.bks`` selection: one :func:`bks_line` per item, exclusions as ``<path> /exclude``,
        CRLF, in UTF-16 LE **without** a byte-order mark: the form NTBackup writes itself (an ANSI
        .bks selects nothing; a leading FF FE spoils the first line and is reported to break
        scheduled jobs — docs/windows-facts.md)."""
        lines: list[str] = []
        for i, item in enumerate(job.include):
            check_value(item, field=f"jobs.{job_name}.include[{i}]")
            lines.append(bks_line(item))
        for i, item in enumerate(job.exclude):
            check_value(item, field=f"jobs.{job_name}.exclude[{i}]")
            lines.append(f"{bks_line(item)} /exclude")
        text = "".join(line + "\r\n" for line in lines)
        return text.encode("utf-16-le")

    def failover_commands(
        self, job_name: str, job: Job, *, node: str, selection: str | None, append: bool
    ) -> tuple[list[Command], bool]:
        """``ntbackup … /M normal`` (FO-2), appending when ``append`` (NT-3)."""
        commands = self.backup_commands(
            job_name, job, node=node, selection=selection, failover=True, append=append
        )
        return commands, append

    def script_rules(self, commands: Sequence[Command], *, failover: bool, appends: bool) -> list[str]:
        """NT-2 always; NT-1 when the script refreshes a library with rsm; NT-3 when it appends."""
        rules = ["FO-2", "NT-2"] if failover else ["JOB-1", "JOB-2", "JOB-4", "NT-2"]
        if any(c.program == "rsm" for c in commands):
            rules.insert(rules.index("NT-2"), "NT-1")
        if appends:
            rules.append("NT-3")
        return rules

    # -- restore -------------------------------------------------------------------------------------

    def restore_steps(self, library: str | None = None, *, field: str = "jobs") -> RestoreSteps:
        """RS-1/RS-2 on 2003: refresh the library so Removable Storage sees the media, then restore
        in the Backup Utility (ntbackup has no restore on its command line)."""
        commands: tuple[Command, ...] = ()
        steps: list[str] = [
            "RS-1: restore the switchover partition on the node that has it attached now; after a "
            "failover that node took a full backup, so its tape holds the newest data. Restore local "
            "disks on each node from that node's own media.",
            "Insert the tape with the backup into the drive or library of that node.",
        ]
        if library:
            commands = (self.rsm_refresh(library, field=field),)
            steps.append(
                f'RS-2: run rsm refresh /LF"{library}" (below) so Removable Storage takes the media '
                "into its inventory; wait until the drive has finished its scan (30-90 s)."
            )
        else:
            steps.append(
                "RS-2: in Removable Storage (ntmsmgr.msc) run Inventory on the library so it takes the "
                "media into its inventory."
            )
        steps += [
            "Start the Backup Utility (ntbackup.exe) in advanced mode and open Restore and Manage Media.",
            "If the media shows no catalog, right-click it and choose Catalog; wait for it to finish.",
            "Select the files or folders to restore, choose where to restore to and start the restore.",
        ]
        return RestoreSteps(commands, tuple(steps))

    def catalog_commands(self, libraries: Sequence[str], *, field: str = "jobs") -> list[Command]:
        """``rsm refresh`` of each library (RS-2), deduplicated in order."""
        seen: list[str] = []
        for lib in libraries:
            if lib not in seen:
                seen.append(lib)
        return [self.rsm_refresh(lib, field=field) for lib in seen]
