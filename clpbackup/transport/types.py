"""Data that crosses the transport: node facts, command results, inspect/apply requests.

Pure dataclasses shared by the sessions (:mod:`clpbackup.transport.psrp`,
:mod:`clpbackup.transport.winrs`), the operations layer and the simulator. The wire form of each
(what the remote operations emit) is specified in ``docs/design.md`` ("Remote operations").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.commands import Command

#: A native command for a session: an argv list, or a :class:`~clpbackup.commands.Command` (whose
#: ``raw_tail``, when set, is sent verbatim as the argument text).
CommandSpec = Union[Sequence[str], "Command"]


@dataclass(frozen=True)
class VolumeInfo:
    """A drive letter as the node sees it: present (ready) and writable."""

    letter: str
    present: bool
    writable: bool


@dataclass(frozen=True)
class NodeFacts:
    """What a node says about itself (one read pipeline)."""

    hostname: str
    os_version: str
    os_caption: str
    ps_version: str | None
    oem_codepage: int
    volumes: tuple[VolumeInfo, ...]
    schedule_start_mode: str | None
    schedule_state: str | None
    wsb_installed: bool | None
    scripts_dir_exists: bool | None = None
    clpstat: str | None = None
    scripts_dir_writers: tuple[str, ...] | None = None
    """SIDs that may write in the scripts folder (its owner and every Allow entry with a write,
    delete or permission right, inherit-only entries included); ``None`` when not read."""

    @property
    def os(self) -> str | None:
        """The plan's OS name for ``os_version`` (``2003`` … ``2012``), ``None`` when unknown."""
        return os_from_version(self.os_version)

    def volume(self, letter: str) -> VolumeInfo | None:
        """The volume with that drive letter (``E:``), or ``None``."""
        for v in self.volumes:
            if v.letter.upper() == letter.upper():
                return v
        return None


def os_from_version(version: str) -> str | None:
    """Map a Windows kernel version (``6.1.7601``) to the plan's OS name (``2008R2``): the platforms
    know their kernel versions (:func:`clpbackup.platforms.os_for_kernel`)."""
    # imported here: the transport needs the platforms only for this, and only after a connection
    from clpbackup.platforms import os_for_kernel

    return os_for_kernel(version)


@dataclass(frozen=True)
class CommandResult:
    """The outcome of one native command on a node."""

    argv: tuple[str, ...]
    rc: int | None
    stdout: str
    stderr: str
    ran: bool = True

    @property
    def ok(self) -> bool:
        """True when the command ran and exited 0."""
        return self.ran and self.rc == 0


@dataclass(frozen=True)
class FileWrite:
    """A file to put on a node (exact bytes); written atomically, skipped when the hash is equal."""

    path: str
    content: bytes


@dataclass(frozen=True)
class FileState:
    """A file as found on a node: ``sha256`` is ``None`` when the file does not exist."""

    path: str
    sha256: str | None
    content: bytes | None = None
    error: str | None = None
    """Why the node could not hash or read the file (access denied …); ``None`` when it could."""


@dataclass(frozen=True)
class FileWriteResult:
    """What writing one file did."""

    path: str
    changed: bool
    sha256: str
    error: str | None = None
    """Why the write failed (``sha256`` is then ``""``); ``None`` when it succeeded."""


@dataclass(frozen=True)
class InspectRequest:
    """Everything to read from a node in one pipeline."""

    hash_paths: Sequence[str] = ()
    read_paths: Sequence[str] = ()
    commands: Sequence[CommandSpec] = ()
    probe_volumes: Sequence[str] = ()
    scripts_dir: str | None = None
    want_facts: bool = True
    clpstat: bool = False
    """Run ``clpstat`` (when the node has it) and return its text in ``facts.clpstat``."""
    command_timeout: int | None = None
    """Seconds each native command may run on the node (default: the connection's deadline)."""
    record_path: str | None = None
    """clpbackup's record on the node (OWN-1): read, and every file it lists hashed (every canary it
    lists read) in the same pipeline, so a file of a job the plan no longer has is still known."""


@dataclass(frozen=True)
class InspectResult:
    """The answer to an :class:`InspectRequest`."""

    facts: NodeFacts | None
    files: dict[str, FileState] = field(default_factory=dict)
    commands: list[CommandResult] = field(default_factory=list)


@dataclass(frozen=True)
class NodeLock:
    """LOCK-1: the lease ``apply`` takes on the node for its write phase.

    ``path`` is the lock file (``<scripts_dir>\\clpbackup.lock``); ``owner`` says who holds it (user,
    client host, process); ``lease_seconds`` how long the holder may keep it (written into the file with
    the time it was taken); ``wait_seconds`` how long a second caller waits for it before giving up.
    """

    path: str
    owner: str
    lease_seconds: int = 600
    wait_seconds: int = 60


@dataclass(frozen=True)
class Guard:
    """A read the apply's decisions rest on, checked again under the lock (LOCK-1).

    Either a file (``path``; ``sha256`` ``None`` = the file must not exist) or a read-only native
    command (``command``) whose standard output must still be ``stdout`` exactly — or, with
    ``refuse`` (a regular expression, .NET and Python alike), must not match it (LIVE-1: no task
    that runs a file the apply writes shows Running).
    """

    path: str | None = None
    sha256: str | None = None
    command: CommandSpec | None = None
    stdout: str = ""
    refuse: str = ""


@dataclass(frozen=True)
class RecordWrite:
    """The record (OWN-1) ``apply`` writes after its commands: ``lines`` with when each is kept
    (``when``: ``""`` always, ``ran:i`` if command i ran with rc 0 — an AT id token is replaced by
    the id it printed —, ``notran:i`` unless command i ran with rc 0, ``wrote:i`` if write i succeeded,
    ``notdeleted:i`` if deleting ``deletes[i]`` failed)."""

    path: str
    lines: Sequence[str]
    when: Sequence[str]


@dataclass(frozen=True)
class ApplyRequest:
    """Every change to make on a node in one pipeline: files first, then deletions, then commands.

    With ``stop_on_error`` the commands after the first one that fails are not run (reported with
    ``ran=False``).
    """

    writes: Sequence[FileWrite] = ()
    deletes: Sequence[str] = ()
    locked_dirs: Sequence[str] = ()
    """Folders to create first, when missing, with SYSTEM and Administrators only (no inheritance)."""
    commands: Sequence[CommandSpec] = ()
    stop_on_error: bool = True
    command_timeout: int | None = None
    """Seconds each native command may run on the node (default: the connection's deadline)."""
    lock: NodeLock | None = None
    """Take this lock before anything else and hold it to the end (LOCK-1)."""
    guards: Sequence[Guard] = ()
    """Checked under the lock; when one no longer holds nothing is written (``ApplyResult.stale``)."""
    record: RecordWrite | None = None
    """The record to write after the commands (OWN-1)."""


@dataclass(frozen=True)
class ApplyResult:
    """The answer to an :class:`ApplyRequest`."""

    files: list[FileWriteResult] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    commands: list[CommandResult] = field(default_factory=list)
    delete_errors: dict[str, str] = field(default_factory=dict)
    """Files that could not be deleted, with the reason."""
    lock_holder: str | None = None
    """Set when the lock could not be taken within its wait: what the holder wrote (nothing was done)."""
    stale: tuple[str, ...] = ()
    """The guards that no longer held under the lock (nothing was done): read again and diff again."""
    record_sha256: str | None = None
    """SHA-256 of the record written (``None``: none was asked for, or writing it failed)."""
    record_error: str | None = None
    """Why the record could not be written."""

    @property
    def changed(self) -> bool:
        """True when a file was written or deleted or a command ran."""
        return any(f.changed for f in self.files) or bool(self.deleted) or any(c.ran for c in self.commands)
