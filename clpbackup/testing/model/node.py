"""``SimulatedWindows``: the model of one Windows Server node behind the simulator's WinRM endpoint.

It implements the simulator backend interface of ``docs/design.md`` ("The simulator's two halves"):
``invoke_script`` runs the Python twin of a named remote operation (:mod:`.ops`),
``run_command_line`` runs a WinRS command line as cmd.exe would. Everything else is the node's state:
files and volumes (:mod:`.fs`), Task Scheduler and AT (:mod:`.taskscheduler`, :mod:`.at`), Windows
Server Backup (:mod:`.wbadmin`), NTBackup and Removable Storage (:mod:`.ntbackup`, :mod:`.rsm`), the
Schedule service, and a batch-file interpreter (:mod:`.batch`).

Personalities by OS (``2003``, ``2008``, ``2008R2``, ``2012``, and the 2012 family ``2012R2``,
``2016``, ``2019``, ``2022``) and locale (code page 932 → ja-JP, otherwise en-US) decide which tools
exist and how they print (docs/windows-facts.md, "Newer Windows", lists what differs and why). All
state changes take the cluster's lock, so the two WinRM servers' threads and the test thread may
call in at any time.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from clpbackup.errors import NotSimulated
from clpbackup.testing.model import batch as batch_mod
from clpbackup.testing.model import cmd as cmd_mod
from clpbackup.testing.model.base import BatchExit, CmdSyntaxError, Env, Proc, ToolResult, lines
from clpbackup.testing.model.clock import NodeTime, SimClock
from clpbackup.testing.model.fs import FileSystem, FsError, ShareStore, Volume, network_credentials
from clpbackup.testing.model.locale import Texts
from clpbackup.testing.model.taskscheduler import COULD_NOT_START, TaskScheduler

#: GetExitCodeProcess of a process that has not exited (STILL_ACTIVE, 259)
STILL_ACTIVE = 259

# Blanks as Windows splits a command line: space and tab only (Microsoft Learn, "Parsing C
# Command-Line Arguments"); Python's \s would also take a no-break space (U+00A0) and mask the next
# argument instead of the value (found by the long plan fuzz: /P "\xa0" /UM).
_SECRET_ARGS = re.compile(r'(?i)(/rp[ \t]+|/p[ \t]+|-password:)("[^"]*"|[^ \t]+)')


def redact(text: str) -> str:
    """A command line with its password arguments (``/RP``, ``/P``, ``-password:``) masked (SEC-1)."""
    return _SECRET_ARGS.sub(lambda m: m.group(1) + "***", text)


@dataclass(frozen=True)
class OsPersonality:
    """What a Windows Server version looks like from the outside.

    ``family`` is the version whose tools it shares (``2012`` for 2012 R2 … 2022: schtasks ``/NP``,
    the task XML's ``URI``, wbadmin's ``Backup location`` label, ``Install-WindowsFeature``).
    ``at_refuses``: at.exe prints its deprecation notice and refuses every request (2016 on).
    ``tls_max``: the newest TLS version SChannel's server side speaks out of the box (the WinRM
    HTTPS listener's): TLS 1.0 on 2003, 2008 and 2008 R2, 1.2 on 2012–2019, 1.3 on 2022.
    ``tls12_possible``: TLS 1.2 can be enabled on the server side (2008 SP2 after KB4019276, 2008 R2,
    both through the SCHANNEL registry keys); never on 2003 (docs/windows-facts.md, "Kerberos …
    and the listener's TLS versions").
    """

    os: str
    version: str
    caption: str
    ps_version: str
    protocol_version: str
    windir: str
    profiles: str
    server_assigned_ids: bool
    family: str = ""
    at_refuses: bool = False
    tls_max: str = "TLSv1.2"
    tls12_possible: bool = True


PERSONALITIES: dict[str, OsPersonality] = {
    "2003": OsPersonality(
        "2003",
        "5.2.3790",
        "Microsoft(R) Windows(R) Server 2003, Enterprise Edition",
        "2.0",
        "2.1",
        "C:\\WINDOWS",
        "C:\\Documents and Settings",
        True,
        tls_max="TLSv1",
        tls12_possible=False,
    ),
    "2008": OsPersonality(
        "2008",
        "6.0.6002",
        "Microsoft\u00ae Windows Server\u00ae 2008 Enterprise ",
        "2.0",
        "2.1",
        "C:\\Windows",
        "C:\\Users",
        False,
        tls_max="TLSv1",
    ),
    "2008R2": OsPersonality(
        "2008R2",
        "6.1.7601",
        "Microsoft Windows Server 2008 R2 Enterprise ",
        "2.0",
        "2.1",
        "C:\\Windows",
        "C:\\Users",
        False,
        tls_max="TLSv1",
    ),
    "2012": OsPersonality(
        "2012",
        "6.2.9200",
        "Microsoft Windows Server 2012 Standard",
        "3.0",
        "2.2",
        "C:\\Windows",
        "C:\\Users",
        False,
    ),
    "2012R2": OsPersonality(
        "2012R2",
        "6.3.9600",
        "Microsoft Windows Server 2012 R2 Standard",
        "4.0",
        "2.3",
        "C:\\Windows",
        "C:\\Users",
        False,
        family="2012",
    ),
    "2016": OsPersonality(
        "2016",
        "10.0.14393",
        "Microsoft Windows Server 2016 Standard",
        "5.1",
        "2.3",
        "C:\\Windows",
        "C:\\Users",
        False,
        family="2012",
        at_refuses=True,
    ),
    "2019": OsPersonality(
        "2019",
        "10.0.17763",
        "Microsoft Windows Server 2019 Standard",
        "5.1",
        "2.3",
        "C:\\Windows",
        "C:\\Users",
        False,
        family="2012",
        at_refuses=True,
    ),
    "2022": OsPersonality(
        "2022",
        "10.0.20348",
        "Microsoft Windows Server 2022 Standard",
        "5.1",
        "2.3",
        "C:\\Windows",
        "C:\\Users",
        False,
        family="2012",
        at_refuses=True,
        tls_max="TLSv1.3",
    ),
}

PS_FOR_PROTOCOL = {"2.1": "2.0", "2.2": "3.0", "2.3": "4.0"}


@dataclass
class ClusterInfo:
    """What ``clpstat`` prints about the cluster: names, and who runs the group now."""

    name: str
    group: str
    nodes: Sequence[str]
    owner: Callable[[], str]
    resources: Sequence[str] = ("sd1", "fip1")


@dataclass
class ProgramRun:
    """One program the node ran (for tests): when (UTC), as whom, what, and its exit code."""

    when: datetime
    user: str
    program: str
    arguments: str
    rc: int
    out: str = ""
    err: str = ""


@dataclass
class Program:
    """A native program the model has: its file name, folder and handler."""

    name: str
    file: str
    folder: str  # "system32" or an absolute folder
    handler: Callable[[SimulatedWindows, Proc, list[str], str], ToolResult]
    needs: str = ""  # "" (always there), "wsb" (2008+ with the feature), "2003", "clpstat"

    def available(self, node: SimulatedWindows) -> bool:
        """True when this program exists on ``node``."""
        if self.needs == "wsb":
            return node.os != "2003" and node.wsb_installed
        if self.needs == "2003":
            return node.os == "2003"
        if self.needs == "clpstat":
            return node.clpstat_enabled and node.cluster is not None
        if self.needs == "clplogcmd":
            return node.clplogcmd_installed
        return True


def _lazy(module: str, func: str) -> Callable[[SimulatedWindows, Proc, list[str], str], ToolResult]:
    def call(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
        import importlib

        fn: Callable[[SimulatedWindows, Proc, list[str], str], ToolResult] = getattr(
            importlib.import_module(f"clpbackup.testing.model.{module}"), func
        )
        return fn(node, proc, argv, tail)

    return call


def _schtasks(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    return node.scheduler.schtasks(proc, argv)


def _at(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    from clpbackup.testing.model.at import at_command

    return at_command(node, proc, tail)


CLUSTERPRO_BIN = "C:\\Program Files\\CLUSTERPRO\\bin"

PROGRAMS: dict[str, Program] = {
    p.name: p
    for p in [
        Program(
            "wbadmin",
            "wbadmin.exe",
            "system32",
            _lazy("wbadmin", "wbadmin_command"),
            "wsb",
        ),
        Program(
            "ntbackup",
            "ntbackup.exe",
            "system32",
            _lazy("ntbackup", "ntbackup_command"),
            "2003",
        ),
        Program("rsm", "rsm.exe", "system32", _lazy("rsm", "rsm_command"), "2003"),
        Program("schtasks", "schtasks.exe", "system32", _schtasks),
        Program("at", "at.exe", "system32", _at),
        Program("cmd", "cmd.exe", "system32", _lazy("sysprogs", "cmd_exe")),
        Program("ping", "PING.EXE", "system32", _lazy("sysprogs", "ping")),
        Program("find", "find.exe", "system32", _lazy("sysprogs", "find")),
        Program("hostname", "HOSTNAME.EXE", "system32", _lazy("sysprogs", "hostname")),
        Program("chcp", "chcp.com", "system32", _lazy("sysprogs", "chcp")),
        Program("whoami", "whoami.exe", "system32", _lazy("sysprogs", "whoami")),
        Program("sc", "sc.exe", "system32", _lazy("sysprogs", "sc")),
        Program("net", "net.exe", "system32", _lazy("sysprogs", "net")),
        Program("certutil", "certutil.exe", "system32", _lazy("sysprogs", "certutil")),
        Program(
            "servermanagercmd", "ServerManagerCmd.exe", "system32", _lazy("sysprogs", "servermanagercmd")
        ),
        Program("powershell", "powershell.exe", "system32", _lazy("sysprogs", "powershell")),
        Program("clpstat", "clpstat.exe", CLUSTERPRO_BIN, _lazy("sysprogs", "clpstat"), "clpstat"),
        Program("eventcreate", "eventcreate.exe", "system32", _lazy("eventlog", "eventcreate_command")),
        Program(
            "clplogcmd", "clplogcmd.exe", CLUSTERPRO_BIN, _lazy("eventlog", "clplogcmd_command"), "clplogcmd"
        ),
    ]
}


class SimulatedWindows:
    """A simulated Windows Server node (the backend behind one WinRM endpoint).

    ``name`` is the node's name as the plan has it; ``hostname`` (``NODE-A``) is what the node calls
    itself. ``os`` picks the personality; ``codepage`` 932 gives ja-JP texts, anything else en-US
    (code page 437). The node shares ``clock``, ``shares`` and ``lock`` with the other node of a
    simulated cluster.
    """

    def __init__(
        self,
        name: str,
        os: str = "2012",
        *,
        codepage: int = 437,
        clock: SimClock | None = None,
        tz: str | int | tzinfo | None = None,
        shares: ShareStore | None = None,
        lock: threading.RLock | None = None,
        username: str = "Administrator",
        protocol_version: str | None = None,
        wsb_installed: bool = True,
        schedule_running: bool = True,
        schedule_start_mode: str = "Auto",
        clpstat: bool = True,
        clplogcmd: bool | None = None,
        cluster: ClusterInfo | None = None,
        volumes: Sequence[Volume | str] = (),
        switchover_volumes: Sequence[str] = (),
        winrm_delegation: bool = False,
        tls12_enabled: bool = False,
        backup_duration: float = 0.0,
        recovery_duration: float = 0.0,
    ) -> None:
        if os not in PERSONALITIES:
            raise ValueError(f"unknown OS {os!r}; use one of {', '.join(PERSONALITIES)}")
        self.personality = PERSONALITIES[os]
        self.name = name
        self.os = os
        self.hostname = name.upper()
        # %RANDOM% (set /?: a random decimal number between 0 and 32767); seeded by the node's
        # name so a simulated run is repeatable, as the docs' samples need
        self.random = random.Random(self.hostname)  # noqa: S311 - a model of %RANDOM%, not a secret
        self.codepage = 932 if codepage == 932 else 437
        self.texts = Texts("ja-JP" if self.codepage == 932 else "en-US")
        self.protocol_version = protocol_version or self.personality.protocol_version
        # an overridden PSRP version brings the PowerShell that speaks it; else the OS's own
        self.ps_version = (
            PS_FOR_PROTOCOL.get(protocol_version, self.personality.ps_version)
            if protocol_version
            else self.personality.ps_version
        )
        self.clock = clock or SimClock()
        self.time = NodeTime(self.clock, tz)
        self.lock: threading.RLock = lock or threading.RLock()
        self.fs = FileSystem(shares)
        self.username = username
        self.wsb_installed = wsb_installed and os != "2003"
        self.schedule_start_mode = schedule_start_mode
        self.schedule_state = "Running" if schedule_running else "Stopped"
        self.clpstat_enabled = clpstat
        # clplogcmd comes with CLUSTERPRO (its bin folder is on the system Path): present wherever
        # clpstat is, unless a test says otherwise
        self.clplogcmd_installed = clpstat if clplogcmd is None else clplogcmd
        self.eventlog: Any = None  # created by eventlog.py on first use
        self.cluster = cluster
        self.switchover_letters = {v[0].upper() + ":" for v in switchover_volumes}
        # CredSSP gives every WinRM session of this node credentials for a second hop; Kerberos
        # does per session, when the client delegated (see winrm_delegation); NTLM and Kerberos
        # without delegation do not (docs/windows-facts.md "The second hop").
        self.credssp_delegation = winrm_delegation
        if tls12_enabled and not self.personality.tls12_possible:
            raise ValueError(f"Windows Server {os} has no TLS 1.2 (SChannel speaks TLS 1.0 at most)")
        # TLS 1.2 enabled for SChannel's server side (the SCHANNEL\Protocols\TLS 1.2\Server keys)
        self.tls12_enabled = tls12_enabled
        #: model seconds a ``wbadmin start backup`` of a scheduled task spends copying (0: none, the
        #: run ends at the moment it starts). Above 0, task runs go on in the background while the
        #: clock moves, and wbadmin writes its ``copied (NN%)`` lines as it goes (windows-facts.md).
        self.backup_duration = backup_duration
        #: model seconds a ``wbadmin start recovery`` of a scheduled task spends recovering (0: none).
        #: Above 0, task runs go on in the background too: a restore drill's task shows Running
        #: until the clock has moved that far (windows-facts.md "Restore drill").
        self.recovery_duration = recovery_duration
        #: background task runs (threads) → the model time each sleeps until, ``None`` while busy
        self.workers: dict[threading.Thread, datetime | None] = {}
        self.scheduler = TaskScheduler(self)
        self.not_simulated: list[str] = []
        self.history: list[ProgramRun] = []
        #: Files another process holds open without write sharing (lower-case path → nothing); an
        #: open of such a file for writing fails with a sharing violation (LOCK-1 tests put a live
        #: holder here; a crashed holder is a lock file that is not in this set).
        self.open_handles: set[str] = set()
        self.batches_run: list[str] = []
        #: processes that never exited (a ``cmd /K`` left by ``start "" "x.bat"``), oldest first
        self.processes: list[ProgramRun] = []
        self.restores: list[dict[str, Any]] = []
        self.wsb_targets: list[str] = []  # backup targets this node has written to (its catalog)
        self.ntbackup: Any = None  # created by ntbackup.py on first use
        self.libraries: dict[str, Any] = {}  # rsm libraries (2003)
        self._tls = threading.local()  # per thread: the request depth and what runs after it
        self.env = Env(
            {
                "ComSpec": self.system32 + "\\cmd.exe",
                "COMPUTERNAME": self.hostname,
                "NUMBER_OF_PROCESSORS": "2",
                "OS": "Windows_NT",
                "Path": f"{self.system32};{self.windir};{self.system32}\\Wbem"
                + (f";{CLUSTERPRO_BIN}" if clpstat or self.clplogcmd_installed else ""),
                "PATHEXT": ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH"
                + (";.MSC" if os != "2003" else ""),
                "PROCESSOR_ARCHITECTURE": "x86" if os == "2003" else "AMD64",
                "SystemDrive": "C:",
                "SystemRoot": self.windir,
                "windir": self.windir,
            }
        )
        self.fs.attach(Volume("C:"))
        for v in volumes:
            self.fs.attach(v if isinstance(v, Volume) else Volume(v))
        self._lay_out_c()

    # -- identity -----------------------------------------------------------------------------------
    @property
    def windir(self) -> str:
        return self.personality.windir

    @property
    def system32(self) -> str:
        return self.windir + "\\system32" if self.os == "2003" else self.windir + "\\System32"

    @property
    def os_version(self) -> str:
        return self.personality.version

    @property
    def family(self) -> str:
        """The version whose tools this node's OS shares (``2012`` for 2012 R2 … 2022)."""
        return self.personality.family or self.os

    @property
    def server_assigned_ids(self) -> bool:
        """2003's WinRM assigns ShellId/CommandId itself (the simulator's server mimics it)."""
        return self.personality.server_assigned_ids

    @property
    def schedule_running(self) -> bool:
        return self.schedule_state == "Running"

    def qualified(self, user: str) -> str:
        """``DOMAIN\\user`` (the node's name for a local account; ``SYSTEM`` stays as it is)."""
        if "\\" in user or user.upper() == "SYSTEM":
            return user
        return f"{self.hostname}\\{user}"

    def profile_dir(self, user: str) -> str:
        """The user's profile folder (SYSTEM's is under system32\\config)."""
        if user.upper() in ("SYSTEM", "NT AUTHORITY\\SYSTEM"):
            return self.system32 + "\\config\\systemprofile"
        return self.personality.profiles + "\\" + user.rpartition("\\")[2]

    def _lay_out_c(self) -> None:
        for d in (
            self.system32,
            self.system32 + "\\config\\systemprofile",
            self.personality.profiles,
            self.profile_dir(self.username),
            self.windir + "\\Temp",
        ):
            self.fs.mkdir(d)
        if self.os != "2003":
            self.fs.mkdir(self.windir + "\\Logs")
        self.refresh_program_files()

    def refresh_program_files(self) -> None:
        """Put (or take away) the programs' .exe files as the node's features say."""
        for prog in PROGRAMS.values():
            path = self.program_path(prog)
            if prog.available(self):
                if not self.fs.is_file(path):
                    self.fs.write_bytes(path, b"MZ", parents=True)
            elif self.fs.is_file(path):
                self.fs.delete(path)

    def program_path(self, prog: Program) -> str:
        folder = self.system32 if prog.folder == "system32" else prog.folder
        return folder + "\\" + prog.file

    def install_wsb(self) -> None:
        """Install the Windows Server Backup feature (rule OS-3)."""
        with self.lock:
            if self.os == "2003":
                raise NotSimulated(
                    "Windows Server Backup does not exist on Windows Server 2003", node=self.name
                )
            self.wsb_installed = True
            self.refresh_program_files()

    # -- code page ----------------------------------------------------------------------------------
    @property
    def encoding(self) -> str:
        return "cp932" if self.codepage == 932 else "cp437"

    def encode(self, text: str) -> bytes:
        """Text as console programs write it (the OEM code page; unmappable → ``?``)."""
        return text.encode(self.encoding, errors="replace")

    def decode(self, data: bytes) -> str:
        return data.decode(self.encoding, errors="replace")

    # -- not simulated ------------------------------------------------------------------------------
    def record_not_simulated(self, what: str) -> str:
        """Remember that something outside the model was asked for; returns the message."""
        message = f"not simulated: {redact(what)}"
        self.not_simulated.append(message)
        return message

    def not_simulated_result(self, what: str) -> ToolResult:
        """Record and fail: rc 1 and the message on stderr."""
        return ToolResult(1, err=lines(self.record_not_simulated(what)))

    def assert_all_simulated(self) -> None:
        """Raise :class:`NotSimulated` listing what the node was asked for but does not model."""
        if self.not_simulated:
            raise NotSimulated(
                "; ".join(self.not_simulated),
                node=self.name,
                hint="extend clpbackup.testing.model or change what is sent to the node",
            )

    # -- processes ----------------------------------------------------------------------------------
    def new_proc(
        self, user: str | None = None, *, cwd: str | None = None, env: dict[str, str] | None = None
    ) -> Proc:
        """A new process of ``user`` (the WinRM user by default) with the system environment."""
        user = user or self.username
        e = self.env.copy()
        profile = self.profile_dir(user)
        short = user.rpartition("\\")[2]
        system = short.upper() == "SYSTEM"
        e.set("USERNAME", f"{self.hostname}$" if system else short)
        e.set("USERPROFILE", profile)
        e.set("USERDOMAIN", "NT AUTHORITY" if system else (user.rpartition("\\")[0] or self.hostname))
        e.set(
            "TEMP",
            self.windir + "\\Temp"
            if system
            else profile + "\\Local Settings\\Temp"
            if self.os == "2003"
            else profile + "\\AppData\\Local\\Temp",
        )
        e.set("TMP", e.get("TEMP"))
        if self.os != "2003":
            e.set("APPDATA", profile + "\\AppData\\Roaming")
            e.set("LOCALAPPDATA", profile + "\\AppData\\Local")
        for k, v in (env or {}).items():
            e.set(k, v)
        for folder in (profile, e.get("TEMP") or profile):
            if not self.fs.is_dir(folder):
                self.fs.mkdir(folder)
        return Proc(user, e, cwd or (self.system32 if system else profile))

    @property
    def tls_versions(self) -> tuple[str, str]:
        """``(oldest, newest)`` TLS version the HTTPS listener accepts (``TLSv1`` … ``TLSv1.3``)."""
        newest = self.personality.tls_max
        if self.tls12_enabled and newest == "TLSv1":
            newest = "TLSv1.2"
        return "TLSv1", newest

    @property
    def winrm_delegation(self) -> bool:
        """The WinRM session running now holds delegated credentials: the node's CredSSP setting,
        or a Kerberos session whose client forwarded its ticket (the server marks the backend call,
        :func:`clpbackup.testing.backend.session_delegated`)."""
        from clpbackup.testing.backend import session_delegated

        return self.credssp_delegation or session_delegated()

    def session_proc(self) -> Proc:
        """The process a WinRM request runs in: the connecting user's network logon, which reaches
        network shares only when the session carries delegated credentials (``winrm_delegation``)."""
        proc = self.new_proc()
        proc.network_logon = not self.winrm_delegation
        return proc

    @contextmanager
    def process_scope(self, proc: Proc) -> Iterator[None]:
        """While ``proc`` runs: file access to ``\\\\server\\share`` as its logon allows."""
        system = proc.user.rpartition("\\")[2].upper() == "SYSTEM"
        with network_credentials(not proc.network_logon, computer=system):
            yield

    def toplevel(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` as one request; then run what it started detached (``start``, ``/Run``)."""
        with self.lock:
            self._depth += 1
            try:
                result = fn()
            finally:
                self._depth -= 1
            if self._depth == 0:
                guard = 0
                while self._after:
                    guard += 1
                    if guard > 1000:
                        self.record_not_simulated("more than 1000 detached processes in one request")
                        self._after.clear()
                        break
                    job = self._after.pop(0)
                    self._depth += 1
                    try:
                        job()
                    finally:
                        self._depth -= 1
            return result

    @property
    def _after(self) -> list[Callable[[], object]]:
        after: list[Callable[[], object]] | None = getattr(self._tls, "after", None)
        if after is None:
            after = self._tls.after = []
        return after

    @property
    def _depth(self) -> int:
        depth: int = getattr(self._tls, "depth", 0)
        return depth

    @_depth.setter
    def _depth(self, value: int) -> None:
        self._tls.depth = value

    # -- runs that take model time ------------------------------------------------------------------
    def background(self, job: Callable[[], object]) -> None:
        """Run ``job`` as a request of its own on a thread of its own (a task run that takes model
        time); :func:`advance_nodes` moves the clock through its waits."""

        def body() -> None:
            try:
                self.toplevel(job)
            finally:
                with self.lock:
                    self.workers.pop(threading.current_thread(), None)

        thread = threading.Thread(target=body, name=f"sim-{self.name}-task", daemon=True)
        with self.lock:
            self.workers[thread] = None
        thread.start()

    def in_background(self) -> bool:
        """True on a background task run's thread (there a tool may wait for the model clock)."""
        return threading.current_thread() in self.workers

    def sleep_until(self, when: datetime) -> None:
        """Wait (on a background run's thread) until the model clock reaches ``when``; the node's
        lock is free meanwhile, so requests are answered while the run goes on."""
        me = threading.current_thread()
        ready = threading.Condition(self.lock)
        with ready:
            self.workers[me] = when
            while self.clock.now() < when:
                ready.wait(0.005)  # releases the lock however deeply this thread holds it
            self.workers[me] = None

    def settled(self) -> bool:
        """No background run is busy: each one sleeps until a time still to come."""
        with self.lock:
            now = self.clock.now()
            return all(w is not None and w > now for w in self.workers.values())

    def next_wake(self, end: datetime) -> datetime | None:
        """The earliest time at or before ``end`` a background run sleeps until."""
        with self.lock:
            times = [w for w in self.workers.values() if w is not None and w <= end]
        return min(times) if times else None

    def stream(self, proc: Proc, text: str) -> None:
        """A running tool's output so far, written where the statement redirects stdout (a console
        shows nothing until the request ends, so without a file it goes nowhere yet)."""
        target = proc.stdout_file
        if target is None:
            return
        try:
            if target.base is None:
                target.base = (
                    self.fs.read_bytes(target.path, target.cwd)
                    if target.append and self.fs.is_file(target.path, target.cwd)
                    else b""
                )
            self.fs.write_bytes(
                target.path, target.base + self.encode(text), target.cwd, mtime=self.time.utc()
            )
        except FsError:
            pass  # the statement's own write at the end reports it

    def after_current(self, job: Callable[[], object]) -> None:
        """Run ``job`` when the current request has finished (immediately outside a request)."""
        if self._depth == 0:
            self.toplevel(job)
        else:
            self._after.append(job)

    def detach(self, proc: Proc, command_line: str) -> None:
        """``start "" <command>``: a new process that runs on after the caller returns.

        A program is created as it is (CreateProcess: no second %-expansion). A batch file or an
        internal command runs in ``cmd /K`` (``start /?``: "the command processor is run with the /K
        switch ... the window will remain after the command has been run"): that cmd.exe stays in
        :attr:`processes` unless an ``exit`` without ``/b`` ends it.
        """
        program, tail = cmd_mod.split_program(command_line)
        kind, target = self.resolve_program(proc, program)
        if kind == "tool":
            self.after_current(lambda: self.run_tool(proc, target, tail))
            return
        self.after_current(lambda: self._console(proc, command_line))

    def _console(self, proc: Proc, command_line: str) -> None:
        """``cmd /K <command_line>``: run it, then keep the console open (recorded, rc STILL_ACTIVE)."""
        expanded = batch_mod.expand(self, proc, command_line, None)
        try:
            cmd_mod.run_statement(self, proc, expanded, in_batch=False)
        except BatchExit as ex:
            if ex.whole:
                return  # "exit" ends cmd.exe itself
        except CmdSyntaxError:
            pass
        run = ProgramRun(self.clock.now(), proc.user, "cmd", "/K " + redact(command_line), STILL_ACTIVE)
        self.processes.append(run)
        self.history.append(run)

    def note_batch(self, path: str) -> None:
        self.batches_run.append(path)

    def resolve_program(self, proc: Proc, program: str) -> tuple[str, Any]:
        """How Windows finds ``program``: ``("tool", Program)``, ``("batch", path)``,
        ``("unsimulated", path)`` (a file exists the model does not run) or ``("missing", None)``."""
        p = program.strip().strip('"').replace("/", "\\")
        if not p:
            return "missing", None
        has_dir = "\\" in p or (len(p) > 1 and p[1] == ":")
        base = p.rpartition("\\")[2]
        stem, dot, ext = base.rpartition(".")
        if not dot:
            stem, ext = base, ""
        ext = ext.lower()
        try:
            if ext in ("bat", "cmd"):
                if self.fs.is_file(p, proc.cwd):
                    return "batch", self.fs.full_path(p, proc.cwd)
                return "missing", None
            if has_dir:
                full = self.fs.full_path(p, proc.cwd).lower()
                for prog in PROGRAMS.values():
                    path = self.program_path(prog).lower()
                    if prog.available(self) and full in (path, path.rpartition(".")[0]):
                        return "tool", prog
                for e in ("", ".exe", ".com", ".bat", ".cmd"):
                    if self.fs.is_file(p + e, proc.cwd):
                        if e in (".bat", ".cmd"):
                            return "batch", self.fs.full_path(p + e, proc.cwd)
                        return "unsimulated", self.fs.full_path(p + e, proc.cwd)
                return "missing", None
            if ext in ("", "exe", "com"):
                found = PROGRAMS.get(stem.lower() if ext else base.lower())
                if (
                    found is not None
                    and found.available(self)
                    and (not ext or found.file.lower() == base.lower())
                ):
                    return "tool", found
            if not ext:
                for e in (".bat", ".cmd"):
                    if self.fs.is_file(p + e, proc.cwd):
                        return "batch", self.fs.full_path(p + e, proc.cwd)
        except FsError:
            return "missing", None
        return "missing", None

    def run_tool(self, proc: Proc, prog: Program, tail: str) -> ToolResult:
        """Run a modelled program with its raw argument text; records it in :attr:`history`."""
        argv = cmd_mod.parse_args(tail)
        with self.process_scope(proc):
            result = prog.handler(self, proc, argv, tail)
        self.history.append(
            ProgramRun(
                self.clock.now(), proc.user, prog.name, redact(tail), result.rc, result.out, result.err
            )
        )
        return result

    def run_program(self, proc: Proc, program: str, tail: str) -> ToolResult | None:
        """cmd.exe running an external program (a batch file runs in the same cmd process).

        ``None`` when no such program exists (cmd.exe then says "not recognized").
        """
        kind, target = self.resolve_program(proc, program)
        if kind == "tool":
            return self.run_tool(proc.child(), target, tail)
        if kind == "batch":
            return batch_mod.run_batch(self, proc, target, batch_mod.split_batch_args(tail))
        if kind == "unsimulated":
            return self.not_simulated_result(f"program {target}")
        return None

    def create_process(self, proc: Proc, program: str, tail: str) -> ToolResult | None:
        """``CreateProcess``/``Process.Start``: a new process; a batch file gets its own cmd.exe."""
        kind, target = self.resolve_program(proc, program)
        child = proc.child()
        if kind == "tool":
            return self.run_tool(child, target, tail)
        if kind == "batch":
            try:
                with self.process_scope(child):
                    return batch_mod.run_batch(self, child, target, batch_mod.split_batch_args(tail))
            except BatchExit as ex:
                return ToolResult(ex.code, ex.out, ex.err)
        if kind == "unsimulated":
            return self.not_simulated_result(f"program {target}")
        return None

    def run_cmdline(self, proc: Proc, command_line: str) -> ToolResult:
        """``cmd /c <command_line>``: one statement with command-line %-expansion."""
        expanded = batch_mod.expand(self, proc, command_line, None)
        try:
            with self.process_scope(proc):
                result = cmd_mod.run_statement(self, proc, expanded, in_batch=False)
        except BatchExit as ex:
            proc.errorlevel = ex.code
            return ToolResult(ex.code, ex.out, ex.err)
        except CmdSyntaxError as exc:
            proc.errorlevel = 255
            return ToolResult(255, err=lines(exc.message))
        return result

    def run_scheduled(
        self, command_line: str, *, user: str = "SYSTEM", env: dict[str, str] | None = None
    ) -> int:
        """What Task Scheduler / AT does with a task's command line; returns the exit code."""
        proc = self.new_proc(user, env=env)
        program, tail = cmd_mod.split_program(command_line)
        result = self.create_process(proc, program, tail)
        if result is None:
            self.record_not_simulated(f"scheduled command with no such program: {command_line}")
            self.history.append(ProgramRun(self.clock.now(), user, program, redact(tail), COULD_NOT_START))
            return COULD_NOT_START
        self.history.append(
            ProgramRun(
                self.clock.now(), user, "(task) " + program, redact(tail), result.rc, result.out, result.err
            )
        )
        return result.rc

    def run_as(self, user: str, command_line: str) -> tuple[int, str, str]:
        """Run a cmd.exe command line as a local process of ``user`` (as a scheduled task would:
        not a network logon, so network shares are reached); ``(rc, stdout, stderr)`` as text."""

        def go() -> ToolResult:
            return self.run_cmdline(self.new_proc(user), command_line)

        result: ToolResult = self.toplevel(go)
        return result.rc, result.out, result.err

    # -- time -------------------------------------------------------------------------------------------
    def next_event(self, end: datetime) -> datetime | None:
        """UTC time of the next scheduled run at or before ``end`` (``None``: none, or Schedule stopped)."""
        with self.lock:
            if not self.schedule_running:
                return None
            due = self.scheduler.due(self.time.to_local(end))
            return self.time.to_utc(due[0][0]) if due else None

    def fire_due(self) -> list[str]:
        """Run every task whose run time has come (the clock's now); returns their names."""
        with self.lock:
            if not self.schedule_running:
                return []
            now = self.time.local()
            ran: list[str] = []
            for when, task in self.scheduler.due(now):
                if self.scheduler.get(task.name) is task:
                    self.toplevel(lambda task=task, when=when: self.scheduler.run_task(task, when))  # type: ignore[misc]
                    ran.append(task.name)
            return ran

    def advance(self, *, hours: float = 0, minutes: float = 0, seconds: float = 0) -> list[str]:
        """Move the clock and run what falls due on this node (see :func:`advance_nodes`)."""
        return advance_nodes([self], hours=hours, minutes=minutes, seconds=seconds)

    # -- the backend interface ------------------------------------------------------------------------
    def invoke_script(self, script: str, parameters: dict[str, Any], input: list[Any]) -> Any:
        """Run the Python twin of a named remote operation (see :mod:`.ops`)."""
        from clpbackup.testing.model.ops import invoke

        return self.toplevel(lambda: invoke(self, script, parameters, input))

    def invoke_pipeline(self, commands: list[Any], input: list[Any]) -> Any:
        """Pipelines outside the one-script shape: pypsrp's ``Client.copy`` and the ``execute_ps``
        scripts of the benchmarks' per-command baseline (see :mod:`.pypsrp_scripts`)."""
        from clpbackup.testing.model.pypsrp_scripts import invoke_pipeline

        def go() -> Any:
            with network_credentials(self.winrm_delegation):  # the session's logon (second hop)
                return invoke_pipeline(self, commands, input)

        return self.toplevel(go)

    def run_command_line(self, command_line: str) -> tuple[int, bytes, bytes]:
        """Run a WinRS command line as cmd.exe does; stdout and stderr in the OEM code page."""

        def go() -> ToolResult:
            return self.run_cmdline(self.session_proc(), command_line)

        result: ToolResult = self.toplevel(go)
        return result.rc, self.encode(result.out), self.encode(result.err)

    # -- state helpers for tests ----------------------------------------------------------------------
    def has_volume(self, letter: str) -> bool:
        """True when the drive letter is attached to this node now."""
        return self.fs.has_volume(letter)

    def read_text(self, path: str, encoding: str | None = None) -> str:
        """A file's text (UTF-16 when it has a BOM, else ``encoding`` or the OEM code page)."""
        with self.lock:
            data = self.fs.read_bytes(path)
        if data.startswith(b"\xff\xfe"):
            return data[2:].decode("utf-16-le")
        return data.decode(encoding or self.encoding)

    def write_file(self, path: str, data: bytes | str, *, encoding: str | None = None) -> None:
        """Put a file on the node (parents created); text is encoded in the OEM code page."""
        raw = data.encode(encoding or self.encoding) if isinstance(data, str) else data
        with self.lock:
            self.fs.write_bytes(path, raw, parents=True, mtime=self.clock.now())

    def runs_of(self, program: str) -> list[ProgramRun]:
        """The recorded runs of a program (``wbadmin``, ``ntbackup`` …)."""
        return [r for r in self.history if r.program == program]

    def __repr__(self) -> str:
        return f"SimulatedWindows({self.name!r}, os={self.os!r}, codepage={self.codepage})"


def advance_nodes(
    nodes: Sequence[SimulatedWindows], *, hours: float = 0, minutes: float = 0, seconds: float = 0
) -> list[str]:
    """Move the nodes' shared clock forward, running every scheduled task (schtasks and AT) that
    falls due, in time order across the nodes; each run finishes at once in model time.
    Returns ``node:task`` for each run, in order."""
    if not nodes:
        return []
    clock = nodes[0].clock
    end = clock.now() + timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if end < clock.now():
        raise ValueError("the simulated clock only moves forward")
    ran: list[str] = []
    _settle(nodes)
    for _ in range(100_000):
        times = [t for t in (n.next_event(end) for n in nodes) if t is not None]
        times += [t for t in (n.next_wake(end) for n in nodes) if t is not None]
        if not times:
            break
        moment = min(times)
        if moment > clock.now():
            clock.set(moment)
        for n in nodes:
            ran += [f"{n.name}:{name}" for name in n.fire_due()]
        _settle(nodes)
    clock.set(end)
    return ran


def _settle(nodes: Sequence[SimulatedWindows], limit: float = 60.0) -> None:
    """Wait (real time) until every background run sleeps until a time still to come or has ended,
    so the clock moves on only once each run has done what it does at this moment."""
    deadline = time.monotonic() + limit
    while not all(n.settled() for n in nodes):
        if time.monotonic() > deadline:
            nodes[0].record_not_simulated(f"a background task run did not settle within {limit:.0f} s")
            return
        time.sleep(0.002)
