"""Windows Server 2008 and 2008 R2: Windows Server Backup (``wbadmin``); AT by default (NEC's guide).

wbadmin on 2008 RTM backs up whole volumes only: file and folder selection, ``-exclude``,
``-nonRecurse*`` and ``-vssCopy`` arrived with 2008 R2 (windows-tools.md §9). Under CLUSTERPRO no
system recovery is supported (WSB-1), so ``-allCritical`` and ``-systemState`` are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import PureWindowsPath
from typing import TYPE_CHECKING, ClassVar

from clpbackup.commands import Command
from clpbackup.errors import PlanError, QuotingError, UnsupportedError
from clpbackup.platforms.base import (
    BackupTool,
    FeatureHint,
    Platform,
    Scheduler,
    check_version_id,
)
from clpbackup.winquote import check_value

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.plan import Job

_DRIVE = re.compile(r"^[A-Za-z]:\\?$")
_GUID_VOLUME = re.compile(r"^\\\\\?\\Volume\{[0-9A-Fa-f-]{36}\}\\$")
ITEM_TYPES = {"volume": "Volume", "file": "File", "app": "App"}
OVERWRITE = {"overwrite": "Overwrite", "createcopy": "CreateCopy", "skip": "Skip"}


def is_volume(item: str) -> bool:
    """``E:``, ``E:\\`` or ``\\\\?\\Volume{GUID}\\``: a whole volume (not a folder or mount point)."""
    return bool(_DRIVE.match(item) or _GUID_VOLUME.match(item))


def _list(items: Sequence[str], what: str, field: str) -> str:
    for item in items:
        check_value(item, field=field)
        if not item or "," in item or '"' in item:
            raise QuotingError(
                f"{what} item {item!r} is empty or contains a comma or a double quote",
                field=field,
                hint="wbadmin takes a comma-delimited list; rename the folder or name its parent",
            )
    return ",".join(items)


def _drive_of(path: str) -> str | None:
    m = re.match(r"^([A-Za-z]):", path)
    return m.group(1).upper() + ":" if m else None


class WbadminPlatform(Platform):
    """What 2008, 2008 R2 and 2012 share: wbadmin."""

    backup_tool: ClassVar[BackupTool] = "wbadmin"
    #: file/folder include, -exclude, -nonRecurse*, -vssCopy
    file_level: ClassVar[bool] = True
    at_deprecated: ClassVar[bool] = False
    at_available: ClassVar[bool] = True
    tool_logs: ClassVar[tuple[str, ...]] = ()

    # -- wbadmin start backup -------------------------------------------------------------------------

    def wbadmin_start_backup(
        self,
        target: str | None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        non_recurse_include: Sequence[str] = (),
        non_recurse_exclude: Sequence[str] = (),
        vss_full: bool = False,
        vss_copy: bool = False,
        all_critical: bool = False,
        system_state: bool = False,
        no_inherit_acl: bool = False,
        field: str,
    ) -> Command:
        """``wbadmin start backup -backupTarget:<t> -include:<a,b> [-exclude:…] [-vssFull|-vssCopy] -quiet``.

        Always ``-quiet`` (WSB-4: wbadmin would otherwise wait for a Y/N answer that never comes).
        Refused: ``-vssFull`` with ``-vssCopy``; ``-allCritical`` or any selection without
        ``-backupTarget``; ``-allCritical``/``-systemState`` at all (WSB-1: no system recovery under
        CLUSTERPRO); on 2008 RTM anything but whole volumes; a target volume that is also backed up.
        """
        def refuse(msg: str, hint: str) -> UnsupportedError:
            return UnsupportedError(f"{field}: {msg}", hint=hint)

        if vss_full and vss_copy:
            raise refuse("-vssFull and -vssCopy exclude each other", "choose vss: full or vss: copy")
        selection = bool(include or exclude or non_recurse_include or non_recurse_exclude)
        if not target and all_critical:
            raise refuse("wbadmin -allCritical fails without -backupTarget", "give the job a target")
        if not target and selection:
            raise refuse("wbadmin -include/-exclude are only valid with -backupTarget",
                         "give the job a target")
        if all_critical or system_state:
            which = "-allCritical" if all_critical else "-systemState"
            raise refuse(
                f"WSB-1: {which} is a system-recovery backup, which CLUSTERPRO does not support",
                "back up user data only (volumes and folders); remove all_critical/system_state",
            )
        if not target:
            raise PlanError("a Windows Server Backup job needs a target (volume or UNC share)",
                            field=f"{field}.target", hint="e.g. target: '\\\\nas01\\backup\\{node}' (WSB-3)")
        if not (include or non_recurse_include):
            raise PlanError("JOB-4: name the volumes or folders to back up", field=f"{field}.include")
        if not self.file_level:
            if non_recurse_include or non_recurse_exclude or exclude:
                raise refuse(
                    f"{self.display_name}: wbadmin backs up whole volumes only; -exclude and "
                    "-nonRecurse* need Windows Server 2008 R2",
                    "remove exclude, or upgrade the nodes to 2008 R2",
                )
            folders = [i for i in include if not is_volume(i)]
            if folders:
                raise refuse(
                    f"{self.display_name}: wbadmin backs up whole volumes only, not {folders[0]!r} "
                    "(file and folder selection arrived with 2008 R2)",
                    "include the volume (E: or \\\\?\\Volume{GUID}\\) instead",
                )
            if vss_copy:
                raise refuse(f"{self.display_name}: -vssCopy needs Windows Server 2008 R2",
                             "leave vss at its default (copy backups are what wbadmin makes there)")
        check_value(target, field=f"{field}.target")
        if '"' in target or "," in target:
            raise QuotingError(f"target {target!r} contains a double quote or a comma",
                               field=f"{field}.target")
        target_drive = target.upper()[:2] if _DRIVE.match(target) else None
        if target_drive:
            clash = [i for i in (*include, *non_recurse_include) if _drive_of(i) == target_drive]
            if clash:
                raise refuse(
                    f"the backup target {target} is also backed up ({clash[0]}); wbadmin refuses that",
                    "back up to another volume or to a network share",
                )
        is_unc = target.startswith("\\\\") and not target.startswith("\\\\?\\")
        if no_inherit_acl and not is_unc:
            raise refuse("-noInheritAcl applies to a network share target only", "remove no_inherit_acl")

        argv: list[str] = ["wbadmin", "start", "backup", "-backupTarget:" + target]
        if include:
            argv.append("-include:" + _list(include, "include", f"{field}.include"))
        if non_recurse_include:
            argv.append("-nonRecurseInclude:" + _list(non_recurse_include, "include", f"{field}.include"))
        if exclude:
            argv.append("-exclude:" + _list(exclude, "exclude", f"{field}.exclude"))
        if non_recurse_exclude:
            argv.append("-nonRecurseExclude:" + _list(non_recurse_exclude, "exclude", f"{field}.exclude"))
        if no_inherit_acl:
            argv.append("-noInheritAcl")
        if vss_full:
            argv.append("-vssFull")
        elif vss_copy:
            argv.append("-vssCopy")
        argv.append("-quiet")
        return Command(tuple(argv), self.os, field=field)

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
        """One ``wbadmin start backup`` (WSB-4); the failover run is the same command (FO-2).

        ``{node}`` in the target becomes the node's name, so each node writes its own folder of the
        share (WSB-3). ``vss: copy`` is passed as ``-vssCopy`` where wbadmin knows it (2008 R2 on);
        on 2008 RTM a copy backup is what wbadmin makes without the switch.
        """
        field = f"jobs.{job_name}"
        if not job.target:
            raise PlanError(
                "a Windows Server Backup job needs a target (volume or UNC share)",
                field=f"{field}.target",
                hint="e.g. target: '\\\\nas01\\backup\\{node}' (a folder per node, WSB-3)",
            )
        target = job.target.replace("{node}", node)
        return [
            self.wbadmin_start_backup(
                target,
                job.include,
                job.exclude,
                vss_full=job.vss == "full",
                vss_copy=job.vss == "copy" and self.file_level,
                all_critical=job.all_critical,
                system_state=job.system_state,
                field=field,
            )
        ]

    # -- what render asks --------------------------------------------------------------------------

    def batch_values(self, job_name: str, job: Job) -> list[tuple[str, str | None]]:
        """``include``, ``exclude`` and ``target``: wbadmin takes them on its command line."""
        values: list[tuple[str, str | None]] = []
        values += [(f"jobs.{job_name}.include[{i}]", v) for i, v in enumerate(job.include)]
        values += [(f"jobs.{job_name}.exclude[{i}]", v) for i, v in enumerate(job.exclude)]
        values.append((f"jobs.{job_name}.target", job.target))
        return values

    def selection_file(self, job_name: str, job: Job) -> None:
        """``None``: wbadmin takes its selection on the command line."""
        return None

    def failover_commands(
        self, job_name: str, job: Job, *, node: str, selection: str | None, append: bool
    ) -> tuple[list[Command], bool]:
        """The daily ``wbadmin start backup`` (FO-2); wbadmin does not append, so ``False``."""
        return self.backup_commands(job_name, job, node=node, selection=selection), False

    def script_rules(self, commands: Sequence[Command], *, failover: bool, appends: bool) -> list[str]:
        """WSB-3 (a folder per node) and WSB-4 (a target wbadmin accepts) after the job's rules."""
        return (["FO-2"] if failover else ["JOB-1", "JOB-2", "JOB-4"]) + ["WSB-3", "WSB-4"]

    # -- versions and recovery ------------------------------------------------------------------------

    def get_versions(self, target: str | None = None, machine: str | None = None, *,
                     field: str = "jobs") -> Command:
        """``wbadmin get versions [-backupTarget:<t>] [-machine:<node>]``."""
        argv = ["wbadmin", "get", "versions"]
        if target:
            check_value(target, field=field)
            argv.append("-backupTarget:" + target)
        if machine:
            check_value(machine, field=field)
            argv.append("-machine:" + machine)
        return Command(tuple(argv), self.os, field=field)

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
        """``wbadmin start recovery -version:<v> -itemtype:<t> -items:<…> [-backupTarget:<t>
        -machine:<m>] [-recoveryTarget:<r>] [-recursive] [-overwrite:<o>] … -quiet``.

        Per item type (windows-tools.md §1.6): Volume → one volume, ``-skipBadClusterCheck`` only
        here; App → one application (``ADIFM`` needs ``-recoveryTarget``), ``-noRollForward`` only
        here; File → files/folders under one parent folder, ``-recursive``, ``-overwrite`` and
        ``-notRestoreAcl`` only here. ``-machine`` is required with ``-backupTarget``.
        """
        def refuse(msg: str, hint: str) -> UnsupportedError:
            return UnsupportedError(f"{field}: wbadmin start recovery: {msg}", hint=hint)

        check_version_id(version, field=f"{field}.version")
        kind = ITEM_TYPES.get(itemtype.lower())
        if kind is None:
            raise refuse(f"-itemtype {itemtype!r} is not Volume, File or App", "use Volume, File or App")
        if not items:
            raise refuse("-items is empty", "name what to recover")
        joined = _list(items, "recovery", f"{field}.items")
        if kind == "Volume":
            if len(items) != 1:
                raise refuse("-itemtype:Volume recovers exactly one volume", "recover one volume at a time")
        elif kind == "App":
            if len(items) != 1:
                raise refuse("-itemtype:App recovers exactly one application", "recover one application")
            if items[0].upper() == "ADIFM" and not recovery_target:
                raise refuse("ADIFM needs -recoveryTarget", "give recovery_target")
        else:
            parents = {str(PureWindowsPath(i.rstrip("\\")).parent).lower() for i in items}
            if len(parents) != 1:
                raise refuse("-itemtype:File items must be under the same parent folder",
                             "run one recovery per folder")
        if kind != "File" and (recursive or overwrite or not_restore_acl):
            raise refuse("-recursive, -overwrite and -notRestoreAcl are valid only for -itemtype:File",
                         "remove them")
        if kind != "Volume" and skip_bad_cluster_check:
            raise refuse("-skipBadClusterCheck is valid only for -itemtype:Volume", "remove it")
        if kind != "App" and no_roll_forward:
            raise refuse("-noRollForward is valid only for -itemtype:App", "remove it")
        if target and not machine:
            raise refuse("-machine must be given with -backupTarget", "name the node whose backup it is")
        argv = ["wbadmin", "start", "recovery", "-version:" + version, "-itemtype:" + kind,
                "-items:" + joined]
        if target:
            check_value(target, field=f"{field}.target")
            argv.append("-backupTarget:" + target)
        if machine:
            check_value(machine, field=f"{field}.machine")
            argv.append("-machine:" + machine)
        if recovery_target:
            check_value(recovery_target, field=f"{field}.recovery_target")
            argv.append("-recoveryTarget:" + recovery_target)
        if recursive:
            argv.append("-recursive")
        if overwrite:
            mode = OVERWRITE.get(overwrite.lower())
            if mode is None:
                raise refuse(f"-overwrite {overwrite!r} is not Overwrite, CreateCopy or Skip",
                             "use one of them")
            argv.append("-overwrite:" + mode)
        if not_restore_acl:
            argv.append("-notRestoreAcl")
        if skip_bad_cluster_check:
            argv.append("-skipBadClusterCheck")
        if no_roll_forward:
            argv.append("-noRollForward")
        argv.append("-quiet")
        return Command(tuple(argv), self.os, field=field)


class Win2008(WbadminPlatform):
    """Windows Server 2008 (RTM / SP2): wbadmin, volumes only."""

    os: ClassVar[str] = "2008"
    display_name: ClassVar[str] = "Windows Server 2008"
    default_scheduler: ClassVar[Scheduler] = "at"
    file_level: ClassVar[bool] = False
    kernel_versions: ClassVar[Mapping[str, str]] = {"6.0": "Windows Server 2008"}

    def feature_install_hint(self) -> FeatureHint:
        """``ServerManagerCmd -install Backup-Features`` (OS-3)."""
        return FeatureHint(
            "ServerManagerCmd -install Backup-Features", "cmd", "Backup-Features",
            core="start /w ocsetup WindowsServerBackup",
        )


class Win2008R2(WbadminPlatform):
    """Windows Server 2008 R2: wbadmin with file-level selection."""

    os: ClassVar[str] = "2008R2"
    display_name: ClassVar[str] = "Windows Server 2008 R2"
    default_scheduler: ClassVar[Scheduler] = "at"
    kernel_versions: ClassVar[Mapping[str, str]] = {"6.1": "Windows Server 2008 R2"}

    def feature_install_hint(self) -> FeatureHint:
        """``Add-WindowsFeature Backup-Features`` (OS-3)."""
        return FeatureHint(
            "Import-Module ServerManager; Add-WindowsFeature Backup-Features -IncludeAllSubFeature",
            "powershell", "Backup-Features",
            core="start /w ocsetup WindowsServerBackup",
        )
