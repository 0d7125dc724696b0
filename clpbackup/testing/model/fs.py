"""Files and volumes of a simulated Windows node.

Windows paths are case-insensitive and case-preserving: every lookup uses the lower-cased path,
every listing shows the case the file was created with. A node has drive letters (``C:`` always,
local data or target volumes, and switchover volumes while they are attached to it) and sees one
network-share store shared by every node of the cluster (``\\\\server\\share\\...``).

A :class:`Volume` carries its files with it: detaching the switchover volume from one node and
attaching it to the other moves its data, as a shared disk does.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Win32 error numbers the tools turn into their messages (see locale.py).
ERROR_FILE_NOT_FOUND = 2
ERROR_PATH_NOT_FOUND = 3
ERROR_ACCESS_DENIED = 5
ERROR_SHARING_VIOLATION = 32
ERROR_INVALID_DRIVE = 15
ERROR_BAD_NETPATH = 53
ERROR_FILE_EXISTS = 80
ERROR_INVALID_NAME = 123
ERROR_DIR_NOT_EMPTY = 145
ERROR_DISK_FULL = 112
ERROR_ALREADY_EXISTS = 183
ERROR_FILENAME_EXCED_RANGE = 206

# Win32 paths without the \\?\ prefix stop at MAX_PATH (259 characters and the NUL); a folder
# needs room for an 8.3 name after it (CreateDirectory: MAX_PATH - 12). "Maximum Path Length
# Limitation", Microsoft Learn; .NET 2.0 (PowerShell 2.0) checks the same before calling Win32.
MAX_PATH = 260
MAX_DIR = MAX_PATH - 12 - 1


# The second hop (docs/windows-facts.md "The second hop"): a process started from a WinRM network
# logon (NTLM, or Kerberos without delegation) holds no credentials another machine accepts, so
# every \\server\share path answers "Access is denied." to it. Processes of a scheduled task (SYSTEM:
# the computer account on the network) and of a session with delegated credentials (CredSSP) reach
# shares. The model keeps "may this process authenticate to a share?" in a context variable that
# the node sets while a process runs (SimulatedWindows.process_scope); the default (test code,
# outside any process) is yes.
_NETWORK_CREDENTIALS: ContextVar[tuple[bool, bool]] = ContextVar(
    "sim_network_credentials", default=(True, False)
)


@contextmanager
def network_credentials(available: bool, *, computer: bool = False) -> Iterator[None]:
    """While inside, UNC paths are reachable (``True``) or answer Access is denied (``False``);
    ``computer``: the process authenticates as the computer account (SYSTEM)."""
    token = _NETWORK_CREDENTIALS.set((available, computer))
    try:
        yield
    finally:
        _NETWORK_CREDENTIALS.reset(token)


def has_network_credentials() -> bool:
    """True when the running process can authenticate to a network share (see above)."""
    return _NETWORK_CREDENTIALS.get()[0]


def as_computer_account() -> bool:
    """True when the running process reaches shares as the computer account (SYSTEM)."""
    return _NETWORK_CREDENTIALS.get()[1]


# Well-known SIDs (Microsoft Learn, "Well-known SIDs"): the same on every locale.
SID_SYSTEM = "S-1-5-18"
SID_ADMINISTRATORS = "S-1-5-32-544"
SID_USERS = "S-1-5-32-545"
SID_CREATOR_OWNER = "S-1-3-0"
SID_TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"

#: Who may write somewhere under the root of a Windows Server system drive by default: besides
#: SYSTEM, Administrators and CREATOR OWNER, BUILTIN\Users may create folders in the root and files
#: in its subfolders (``icacls C:\``: ``BUILTIN\Users:(CI)(AD)``, ``BUILTIN\Users:(CI)(IO)(WD)``),
#: so a folder created there with inherited permissions is writable by any user.
DEFAULT_ROOT_WRITERS = frozenset(
    {SID_SYSTEM, SID_ADMINISTRATORS, SID_CREATOR_OWNER, SID_TRUSTED_INSTALLER, SID_USERS}
)


@dataclass
class FolderAcl:
    """What the model keeps of a folder's security descriptor: its owner, the SIDs an Allow entry
    lets write (create files or folders, write, delete, change permissions or take ownership —
    inherit-only entries included, since they apply to what is created inside) and whether it is
    protected from inheritance (``SetAccessRuleProtection(true, false)``)."""

    owner: str
    writers: frozenset[str]
    protected: bool = False


class FsError(OSError):
    """A file-system operation failed; ``winerror`` is the Win32 error number."""

    def __init__(self, winerror: int, path: str) -> None:
        super().__init__(winerror, f"Win32 error {winerror}: {path}")
        self.winerror = winerror
        self.path = path


@dataclass
class FileEntry:
    """A file: its name as created (case kept), its bytes, its last write time (UTC)."""

    name: str
    data: bytes
    mtime: datetime | None = None


class Store:
    """A tree of folders and files under one root (a volume or a network share).

    Keys are relative paths lower-cased and joined with ``\\`` (``''`` is the root). ``meta`` holds
    what tools keep on the medium (Windows Server Backup's catalog of versions, for instance).
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.files: dict[str, FileEntry] = {}
        self.dirs: dict[str, str] = {"": ""}
        self.meta: dict[str, Any] = {}
        self.writable = True
        #: folders with an ACL of their own (the others inherit from their parent; the root has
        #: ``root_writers``)
        self.acls: dict[str, FolderAcl] = {}
        self.root_writers: frozenset[str] = DEFAULT_ROOT_WRITERS
        #: bytes that may still be written (``None``: no limit); a write past it fails with
        #: ERROR_DISK_FULL after writing what fits, as WriteFile does on a full disk
        self.free_bytes: int | None = None
        #: files another process holds open sharing reading only (CreateFile with FILE_SHARE_READ):
        #: reading works; deleting, writing or replacing them fails with ERROR_SHARING_VIOLATION
        self.held: set[str] = set()

    # The relative path (display form) of a key.
    def display(self, key: str) -> str:
        if key in self.dirs:
            return self.dirs[key]
        entry = self.files.get(key)
        if entry is None:
            return key
        parent = key.rpartition("\\")[0]
        base = self.dirs.get(parent, parent)
        return f"{base}\\{entry.name}" if base else entry.name

    def full(self, key: str) -> str:
        """The full Windows path of a key under this root."""
        rel = self.display(key)
        return f"{self.root}\\{rel}" if rel else self.root + "\\"

    def walk_files(self, prefix: str = "") -> Iterator[tuple[str, FileEntry]]:
        """Files at or under the relative key ``prefix`` (sorted)."""
        for key in sorted(self.files):
            if not prefix or key == prefix or key.startswith(prefix + "\\"):
                yield key, self.files[key]


class Volume(Store):
    """A drive letter's volume: ``letter`` (``E:``), ``label`` and the NTFS tree."""

    def __init__(self, letter: str, label: str = "", *, size_gb: int = 100) -> None:
        letter = letter[0].upper() + ":"
        super().__init__(letter)
        self.letter = letter
        self.label = label
        self.size_gb = size_gb

    @property
    def display_name(self) -> str:
        """How wbadmin names the volume: ``Label(E:)`` or ``(E:)``."""
        return f"{self.label}({self.letter})"


class ShareStore:
    """The network shares every node of the cluster sees (``\\\\server\\share``).

    A share comes to exist the first time it is used (``auto_create``); a server named in
    ``unreachable`` answers "The network path was not found." on every node; a server named in
    ``deny_computer_accounts`` grants the nodes' computer accounts nothing, so processes running as
    SYSTEM (the scheduled backups) get "Access is denied." there.
    """

    def __init__(self, *, auto_create: bool = True) -> None:
        self.shares: dict[str, Store] = {}
        self.auto_create = auto_create
        self.unreachable: set[str] = set()
        self.deny_computer_accounts: set[str] = set()
        self.lock = threading.RLock()

    def share(self, server: str, name: str, *, create: bool | None = None) -> Store:
        """The share ``\\\\server\\name`` (``FsError`` 53 when it cannot be reached, 5 when the
        running process has no credentials for it: the second hop)."""
        if server.lower() in self.unreachable:
            raise FsError(ERROR_BAD_NETPATH, f"\\\\{server}\\{name}")
        if not has_network_credentials() or (
            as_computer_account() and server.lower() in {s.lower() for s in self.deny_computer_accounts}
        ):
            raise FsError(ERROR_ACCESS_DENIED, f"\\\\{server}\\{name}")
        key = f"\\\\{server}\\{name}".lower()
        store = self.shares.get(key)
        if store is None:
            if not (self.auto_create if create is None else create):
                raise FsError(ERROR_BAD_NETPATH, f"\\\\{server}\\{name}")
            store = Store(f"\\\\{server}\\{name}")
            self.shares[key] = store
        return store


_BAD_CHARS = re.compile(r'[<>"|?*\x00-\x1f]')


@dataclass
class Resolved:
    """A path resolved to its store and relative key."""

    store: Store
    key: str
    parts: list[str] = field(default_factory=list)

    @property
    def parent_key(self) -> str:
        return self.key.rpartition("\\")[0] if "\\" in self.key else ""

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else ""

    @property
    def full(self) -> str:
        return self.store.root + "\\" + "\\".join(self.parts)


def split_path(path: str, cwd: str = "C:\\") -> tuple[str, list[str]]:
    """``(root, parts)`` of a Windows path: root is ``C:`` or ``\\\\server\\share``.

    Relative paths are taken from ``cwd``; ``.`` and ``..`` are resolved; ``/`` counts as ``\\``.
    Raises ``FsError`` 123 for names Windows refuses.
    """
    p = path.replace("/", "\\")
    if p.startswith("\\\\"):
        bits = [b for b in p[2:].split("\\")]
        if len(bits) < 2 or not bits[0] or not bits[1]:
            raise FsError(ERROR_BAD_NETPATH, path)
        root = f"\\\\{bits[0]}\\{bits[1]}"
        rest = bits[2:]
    elif len(p) >= 2 and p[1] == ":" and p[0].isalpha():
        root = p[0].upper() + ":"
        rest_text = p[2:]
        if not rest_text.startswith("\\"):
            # "C:foo" is relative to the current folder of that drive; the model keeps one cwd.
            croot, cparts = split_path(cwd, "C:\\")
            base = cparts if croot == root else []
            rest = [*base, *rest_text.split("\\")]
        else:
            rest = rest_text.split("\\")
    elif p.startswith("\\"):
        croot, _ = split_path(cwd, "C:\\")
        root = croot
        rest = p.split("\\")
    else:
        croot, cparts = split_path(cwd, "C:\\")
        root = croot
        rest = [*cparts, *p.split("\\")]
    parts: list[str] = []
    for part in rest:
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        # Windows drops trailing dots and spaces of a name.
        clean = part.rstrip(" .")
        if not clean or _BAD_CHARS.search(clean) or ":" in clean:
            raise FsError(ERROR_INVALID_NAME, path)
        parts.append(clean)
    return root, parts


class FileSystem:
    """One node's files: its drive letters and the cluster's network shares."""

    def __init__(self, shares: ShareStore | None = None) -> None:
        self.volumes: dict[str, Volume] = {}
        self.shares = shares or ShareStore()

    # -- volumes ------------------------------------------------------------------------------
    def attach(self, volume: Volume) -> None:
        """Give the node the volume's drive letter."""
        self.volumes[volume.letter] = volume

    def detach(self, letter: str) -> Volume:
        """Take a drive letter away (``KeyError`` when the node does not have it)."""
        return self.volumes.pop(letter[0].upper() + ":")

    def has_volume(self, letter: str) -> bool:
        """True when the node has that drive letter now."""
        return letter[:1].upper() + ":" in self.volumes

    def volume(self, letter: str) -> Volume | None:
        return self.volumes.get(letter[:1].upper() + ":")

    # -- resolution ---------------------------------------------------------------------------
    def resolve(self, path: str, cwd: str = "C:\\") -> Resolved:
        """Resolve a path to its store; ``FsError`` 15 (no drive) or 53 (share unreachable)."""
        root, parts = split_path(path, cwd)
        if len(root) + sum(len(p) + 1 for p in parts) >= MAX_PATH:
            raise FsError(ERROR_FILENAME_EXCED_RANGE, path)
        if root.startswith("\\\\"):
            server, _, name = root[2:].partition("\\")
            store: Store = self.shares.share(server, name)
        else:
            vol = self.volumes.get(root)
            if vol is None:
                raise FsError(ERROR_INVALID_DRIVE, path)
            store = vol
        return Resolved(store, "\\".join(x.lower() for x in parts), parts)

    def _check_parent(self, r: Resolved, path: str) -> None:
        if r.parent_key not in r.store.dirs:
            raise FsError(ERROR_PATH_NOT_FOUND, path)

    # -- queries ------------------------------------------------------------------------------
    def exists(self, path: str, cwd: str = "C:\\") -> bool:
        """True for an existing file or folder (a missing drive is simply "no")."""
        try:
            r = self.resolve(path, cwd)
        except FsError:
            return False
        return r.key in r.store.files or r.key in r.store.dirs

    def is_file(self, path: str, cwd: str = "C:\\") -> bool:
        try:
            r = self.resolve(path, cwd)
        except FsError:
            return False
        return r.key in r.store.files

    def is_dir(self, path: str, cwd: str = "C:\\") -> bool:
        try:
            r = self.resolve(path, cwd)
        except FsError:
            return False
        return r.key in r.store.dirs

    def read_bytes(self, path: str, cwd: str = "C:\\") -> bytes:
        """The file's bytes; ``FsError`` 2/3/5/15 otherwise."""
        r = self.resolve(path, cwd)
        entry = r.store.files.get(r.key)
        if entry is None:
            if r.key in r.store.dirs:
                raise FsError(ERROR_ACCESS_DENIED, path)
            if r.parent_key not in r.store.dirs:
                raise FsError(ERROR_PATH_NOT_FOUND, path)
            raise FsError(ERROR_FILE_NOT_FOUND, path)
        return entry.data

    def full_path(self, path: str, cwd: str = "C:\\") -> str:
        """The normalized full path, in the case of what exists (or as given)."""
        r = self.resolve(path, cwd)
        if r.key in r.store.files or r.key in r.store.dirs:
            return r.store.full(r.key)
        return r.full

    def listdir(self, path: str, cwd: str = "C:\\") -> list[str]:
        """Names in a folder (folders and files, sorted case-insensitively)."""
        r = self.resolve(path, cwd)
        if r.key not in r.store.dirs:
            raise FsError(ERROR_PATH_NOT_FOUND, path)
        prefix = r.key + "\\" if r.key else ""
        names: dict[str, str] = {}
        for key, disp in r.store.dirs.items():
            if key and key.startswith(prefix) and "\\" not in key[len(prefix) :]:
                names[key] = disp.rpartition("\\")[2]
        for key, entry in r.store.files.items():
            if key.startswith(prefix) and "\\" not in key[len(prefix) :]:
                names[key] = entry.name
        return [names[k] for k in sorted(names)]

    def walk(self, path: str, cwd: str = "C:\\") -> list[tuple[str, bytes]]:
        """Every file at or under ``path``: ``(full path, bytes)``."""
        r = self.resolve(path, cwd)
        return [(r.store.full(k), e.data) for k, e in r.store.walk_files(r.key)]

    # -- security -----------------------------------------------------------------------------
    def acl(self, path: str, cwd: str = "C:\\") -> FolderAcl:
        """The folder's effective ACL: its own when protected, else its entries plus its parent's."""
        r = self.resolve(path, cwd)
        if r.key not in r.store.dirs:
            raise FsError(ERROR_PATH_NOT_FOUND, path)
        writers: set[str] = set()
        owner = SID_ADMINISTRATORS
        key = r.key
        own = r.store.acls.get(key)
        if own is not None:
            owner = own.owner
        while True:
            entry = r.store.acls.get(key)
            if entry is not None:
                writers |= entry.writers
                if entry.protected:
                    return FolderAcl(owner, frozenset(writers), own is not None and own.protected)
            if not key:
                break
            key = key.rpartition("\\")[0] if "\\" in key else ""
        return FolderAcl(owner, frozenset(writers | r.store.root_writers), False)

    def set_acl(self, path: str, acl: FolderAcl, cwd: str = "C:\\") -> None:
        """Give a folder an ACL of its own (``Set-Acl`` / ``DirectorySecurity``)."""
        r = self.resolve(path, cwd)
        if r.key not in r.store.dirs:
            raise FsError(ERROR_PATH_NOT_FOUND, path)
        r.store.acls[r.key] = acl

    def may_write(self, path: str, sid: str, cwd: str = "C:\\") -> bool:
        """True when ``sid`` may create or change files in the folder ``path`` (or is its owner)."""
        acl = self.acl(path, cwd)
        return sid == acl.owner or sid in acl.writers

    # -- changes ------------------------------------------------------------------------------
    def _writable(self, r: Resolved, path: str) -> None:
        if not r.store.writable:
            raise FsError(ERROR_ACCESS_DENIED, path)

    def _not_held(self, r: Resolved, path: str) -> None:
        if r.key in r.store.held:
            raise FsError(ERROR_SHARING_VIOLATION, path)

    def hold_open(self, path: str, cwd: str = "C:\\") -> None:
        """Another process opens the file sharing reading only and keeps it open (an editor, a
        scanner): until :meth:`release`, deleting, writing or replacing it fails (docs/windows-facts.md,
        OWN-1)."""
        r = self.resolve(path, cwd)
        if r.key not in r.store.files:
            raise FsError(ERROR_FILE_NOT_FOUND, path)
        r.store.held.add(r.key)

    def release(self, path: str, cwd: str = "C:\\") -> None:
        """That process closes its handle (or ends: Windows closes its handles)."""
        r = self.resolve(path, cwd)
        r.store.held.discard(r.key)

    def mkdir(self, path: str, cwd: str = "C:\\", *, parents: bool = True, exist_ok: bool = True) -> None:
        """Create a folder (and its parents); ``FsError`` 183 when it exists and not ``exist_ok``."""
        r = self.resolve(path, cwd)
        self._writable(r, path)
        if r.key in r.store.files:
            raise FsError(ERROR_ALREADY_EXISTS, path)
        if r.key in r.store.dirs:
            if exist_ok:
                return
            raise FsError(ERROR_ALREADY_EXISTS, path)
        if len(r.full) > MAX_DIR:
            raise FsError(ERROR_FILENAME_EXCED_RANGE, path)
        if not parents:
            self._check_parent(r, path)
        for i in range(1, len(r.parts) + 1):
            key = "\\".join(x.lower() for x in r.parts[:i])
            if key in r.store.files:
                raise FsError(ERROR_PATH_NOT_FOUND, path)
            r.store.dirs.setdefault(key, "\\".join(r.parts[:i]))

    def write_bytes(
        self,
        path: str,
        data: bytes,
        cwd: str = "C:\\",
        *,
        parents: bool = False,
        mtime: datetime | None = None,
        append: bool = False,
    ) -> None:
        """Write (or append to) a file; the parent folder must exist unless ``parents``."""
        r = self.resolve(path, cwd)
        self._writable(r, path)
        self._not_held(r, path)
        if not r.parts or r.key in r.store.dirs:
            raise FsError(ERROR_ACCESS_DENIED, path)
        if parents:
            parent = r.store.root + "\\" + "\\".join(r.parts[:-1])
            self.mkdir(parent)
        self._check_parent(r, path)
        full = r.store.free_bytes is not None and len(data) > r.store.free_bytes
        if r.store.free_bytes is not None:
            data = data[: r.store.free_bytes]
            r.store.free_bytes -= len(data)
        old = r.store.files.get(r.key)
        if old is not None:
            old.data = old.data + data if append else data
            old.mtime = mtime
        else:
            r.store.files[r.key] = FileEntry(r.parts[-1], data, mtime)
        if full:
            raise FsError(ERROR_DISK_FULL, path)

    def delete(self, path: str, cwd: str = "C:\\") -> bool:
        """Delete a file; False when there was none (folders are not deleted here)."""
        r = self.resolve(path, cwd)
        if r.key not in r.store.files:
            return False
        self._writable(r, path)
        self._not_held(r, path)
        del r.store.files[r.key]
        return True

    def rmtree(self, path: str, cwd: str = "C:\\") -> None:
        """Delete a folder and everything under it (as ``rd /s /q``)."""
        r = self.resolve(path, cwd)
        self._writable(r, path)
        prefix = r.key + "\\"
        for k in [k for k in r.store.files if k.startswith(prefix)]:
            del r.store.files[k]
        for k in [k for k in r.store.dirs if k == r.key or k.startswith(prefix)]:
            if k:
                del r.store.dirs[k]
                r.store.acls.pop(k, None)

    def move(self, src: str, dst: str, cwd: str = "C:\\", *, replace: bool = True) -> None:
        """Move a file (``MoveFileEx`` with ``MOVEFILE_REPLACE_EXISTING`` when ``replace``)."""
        rs = self.resolve(src, cwd)
        entry = rs.store.files.get(rs.key)
        if entry is None:
            raise FsError(ERROR_FILE_NOT_FOUND, src)
        rd = self.resolve(dst, cwd)
        if rd.key in rd.store.dirs:
            rd = self.resolve(rd.full + "\\" + entry.name)
        self._check_parent(rd, dst)
        self._writable(rs, src)
        self._writable(rd, dst)
        self._not_held(rs, src)
        self._not_held(rd, dst)
        if rd.key in rd.store.files and not replace:
            raise FsError(ERROR_ALREADY_EXISTS, dst)
        del rs.store.files[rs.key]
        rd.store.files[rd.key] = FileEntry(rd.parts[-1], entry.data, entry.mtime)
