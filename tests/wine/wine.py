"""Wine as a judge: build the recorder and the launcher, make prefixes, run command lines, read records.

Wine ships its own cmd.exe, CreateProcess, CommandLineToArgvW and OEM code pages, written by people
who never read ``clpbackup.winquote`` or the simulator's ``model/cmd.py``. Running clpbackup's
batch files and command lines there, with copies of a recorder standing in for the Windows tools,
shows what each tool would receive (``docs/testing.md``, "The three judges").

* :func:`wine_missing` — why the Wine tier cannot run here (``None`` when it can).
* :func:`build_tools` — ``recorder.exe`` and ``launcher.exe`` from ``tests/wine/c`` (mingw-w64).
* :class:`WinePrefix` — one prefix per code page (cp437: ``LANG=en_US.UTF-8``; cp932:
  ``LANG=ja_JP.UTF-8``); its drives (``dosdevices`` links), files, and :meth:`WinePrefix.launch`,
  which hands a list of :class:`Step` to the launcher in one Wine process and returns the results.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

HERE = Path(__file__).resolve().parent
C_SOURCES = HERE / "c"

#: The programs clpbackup's batch files and command lines start; each gets a copy of the recorder.
#: (``find``, which failover.bat uses to read at.exe's list, stays Wine's own: it must really search.)
RECORDED = (
    "wbadmin",
    "ntbackup",
    "rsm",
    "schtasks",
    "at",
    "ping",
    "powershell",
    "eventcreate",
    "hostname",
)

#: CLUSTERPRO's stand-in folder on the Path: a recorder named ``clplogcmd.exe`` lives there, and a
#: step whose PATH leaves it out is a node without CLUSTERPRO's clplogcmd (ALERT-1).
CLP_DIR = "C:\\clpjudge\\clusterpro"
#: The judge's own folder on C: (the recorder copies and the launcher live in ``bin``: CreateProcess
#: looks in the launching program's folder first, before system32 and Wine's own schtasks.exe).
JUDGE_DIR = "C:\\clpjudge"
BIN_DIR = JUDGE_DIR + "\\bin"
#: The working folder of every run (the scheduler's would be system32, where Wine's builtin
#: schtasks.exe/ping.exe would shadow the recorders on cmd.exe's search).
CWD = JUDGE_DIR + "\\cwd"

#: The PATH of every step; :data:`PATH_WITHOUT_CLP` is a node without clplogcmd.
PATH_WITHOUT_CLP = f"{BIN_DIR};C:\\windows\\system32;C:\\windows"
BASE_PATH = f"{PATH_WITHOUT_CLP};{CLP_DIR}"

LANGS = {437: "en_US.UTF-8", 932: "ja_JP.UTF-8"}

_US, _RS = "\x1f", "\x1e\n"


def wine_binary() -> str | None:
    """The ``wine`` command (Debian's wine64 package installs ``wine``; some only ``wine64``)."""
    return shutil.which("wine") or shutil.which("wine64")


def _locale_present(lang: str) -> bool:
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return False
    want = lang.lower().replace("utf-8", "utf8")
    return any(line.strip().lower().replace("utf-8", "utf8") == want for line in out.splitlines())


def wine_missing() -> str | None:
    """Why the Wine tier cannot run on this machine, or ``None``."""
    missing = []
    if wine_binary() is None:
        missing.append("wine (apt-get install wine64)")
    if shutil.which("x86_64-w64-mingw32-gcc") is None:
        missing.append("x86_64-w64-mingw32-gcc (apt-get install gcc-mingw-w64-x86-64)")
    if not _locale_present(LANGS[932]):
        missing.append("the ja_JP.UTF-8 locale (locale-gen ja_JP.UTF-8)")
    if not missing:
        return None
    return "Wine tier needs " + ", ".join(missing) + "; .ci/install-wine installs them"


@dataclass(frozen=True)
class Tools:
    """The built executables."""

    recorder: Path
    launcher: Path


def build_tools(out: Path) -> Tools:
    """Compile the recorder and the launcher (about a second each)."""
    gcc = "x86_64-w64-mingw32-gcc"
    out.mkdir(parents=True, exist_ok=True)
    recorder, launcher = out / "recorder.exe", out / "launcher.exe"
    for exe, src, libs in ((recorder, "recorder.c", ["-lshell32"]), (launcher, "launcher.c", [])):
        subprocess.run(
            [gcc, "-municode", "-O2", "-Wall", "-Werror", "-o", str(exe), str(C_SOURCES / src), *libs],
            check=True,
            capture_output=True,
        )
    return Tools(recorder, launcher)


# -- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One run of a recorded program: what it received."""

    module: str  # its path (C:\clpjudge\bin\wbadmin.exe)
    command_line: str  # GetCommandLineW()
    argv: tuple[str, ...]  # CommandLineToArgvW()

    @property
    def program(self) -> str:
        """``wbadmin`` for ``C:\\clpjudge\\bin\\wbadmin.exe``."""
        return PureWindowsPath(self.module).stem.lower()

    @property
    def tail(self) -> str:
        """The command line after the program name, as the program reads it for itself (the
        program name ends at the first blank, or at the second quote when it starts with one;
        surrounding blanks dropped — cmd.exe leaves the blanks where a redirection was)."""
        line = self.command_line.lstrip(" \t")
        if line.startswith('"'):
            end = line.find('"', 1)
            rest = "" if end < 0 else line[end + 1 :]
        else:
            cut = [i for i in (line.find(" "), line.find("\t")) if i >= 0]
            rest = line[min(cut) :] if cut else ""
        return rest.strip(" \t")


def parse_records(data: bytes) -> list[Record]:
    """The records of a recorder log (complete records only)."""
    out = []
    # the text after the last RS LF is a record still being written (or nothing)
    for chunk in data.decode("utf-8", errors="replace").split(_RS)[:-1]:
        parts = chunk.split(_US)
        out.append(Record(parts[0], parts[1], tuple(parts[2:])))
    return out


@dataclass(frozen=True)
class RunResult:
    """What the launcher saw of one ``R`` step."""

    rc: int | None  # None: CreateProcessW failed (see error) or timed out
    ms: int
    error: int | None = None
    timeout: bool = False
    retried: bool = False  # Wine's CreateProcessW said 1359 once (a Wine flake; retried once)
    records: tuple[Record, ...] = ()


@dataclass
class Step:
    """One run: a command line for CreateProcessW, its environment additions, its record log."""

    command_line: str
    env: dict[str, str] = field(default_factory=dict)
    timeout_ms: int = 60000


# -- a prefix ----------------------------------------------------------------------------------------


class WinePrefix:
    """A Wine prefix for one OEM code page, with the judge's tools installed on C:."""

    def __init__(self, root: Path, codepage: int, tools: Tools) -> None:
        self.root = root
        self.codepage = codepage
        self.tools = tools
        self.seq = 0
        self.boot_seconds = 0.0
        self._pristine: set[str] = set()
        self._volumes = root.parent / f"volumes-{codepage}"

    # -- environment
    @property
    def env(self) -> dict[str, str]:
        """The Unix environment every wine command of this prefix runs with."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WINE", "LC_", "DISPLAY"))}
        env.update(
            WINEPREFIX=str(self.root),
            WINEDEBUG="-all",
            # no Mono/Gecko installer dialogs; nothing here needs .NET or a browser
            WINEDLLOVERRIDES="mscoree,mshtml=",
            LANG=LANGS[self.codepage],
            LC_ALL=LANGS[self.codepage],
        )
        return env

    def boot(self) -> None:
        """Create the prefix (``wineboot -i``) and keep a wineserver running for it."""
        wine = wine_binary()
        assert wine is not None
        t0 = time.monotonic()
        # a persistent wineserver first: wineboot and every later wine command use it, and each of
        # those then starts in a fraction of a second
        self.root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["wineserver", "-p"], env=self.env, check=True, timeout=60)
        subprocess.run(
            [wine, "wineboot", "-i"],
            env=self.env,
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=600,
        )
        self.boot_seconds = time.monotonic() - t0
        drive_c = self.root / "drive_c"
        bin_dir = self.unix(BIN_DIR)
        bin_dir.mkdir(parents=True, exist_ok=True)
        self.unix(CWD).mkdir(parents=True, exist_ok=True)
        for name in RECORDED:
            shutil.copyfile(self.tools.recorder, bin_dir / f"{name}.exe")
        self.unix(CLP_DIR).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.tools.recorder, self.unix(CLP_DIR) / "clplogcmd.exe")
        shutil.copyfile(self.tools.launcher, bin_dir / "clpjudge-launcher.exe")
        self._pristine = {p.name.lower() for p in drive_c.iterdir()}
        self._volumes.mkdir(exist_ok=True)

    def shutdown(self) -> None:
        """Stop the prefix's wineserver (and every process still running in it)."""
        subprocess.run(["wineserver", "-k"], env=self.env, check=False, timeout=60)

    # -- drives and files
    def attach(self, letter: str) -> None:
        """Make drive ``letter`` (``E`` or ``E:``) a folder of its own (a ``dosdevices`` link:
        Wine's DefineDosDevice does not make a drive visible to other processes)."""
        ch = letter[0].lower()
        if ch == "c":
            return
        target = self._volumes / ch
        target.mkdir(exist_ok=True)
        link = self.root / "dosdevices" / f"{ch}:"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)

    def detach(self, letter: str) -> None:
        """Take drive ``letter`` away (the node without the switchover partition)."""
        ch = letter[0].lower()
        link = self.root / "dosdevices" / f"{ch}:"
        if link.is_symlink() or link.exists():
            link.unlink()

    def reset(self, letters: set[str]) -> None:
        """A clean node: C: back to the prefix as booted, and exactly ``letters`` (besides C:)
        attached and empty."""
        drive_c = self.root / "drive_c"
        for entry in drive_c.iterdir():
            if entry.name.lower() not in self._pristine:
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        shutil.rmtree(self.unix(JUDGE_DIR) / "logs", ignore_errors=True)
        self.unix(JUDGE_DIR + "\\logs").mkdir()
        for link in (self.root / "dosdevices").iterdir():
            name = link.name.lower()
            if len(name) == 2 and name[1] == ":" and name[0] not in "cz":
                link.unlink()
        shutil.rmtree(self._volumes)
        self._volumes.mkdir()
        for letter in letters:
            self.attach(letter)

    def unix(self, win_path: str) -> Path:
        """The Unix path of a Windows path on an attached drive (``C:\\a\\b`` → ``…/drive_c/a/b``)."""
        p = PureWindowsPath(win_path)
        drive = p.drive.lower()
        if len(drive) != 2 or drive[1] != ":":
            raise ValueError(f"not a drive path: {win_path}")
        base = self.root / "drive_c" if drive == "c:" else self.root / "dosdevices" / drive
        parts = [x for x in p.parts[1:]]
        return base.joinpath(*parts) if parts else base

    def write(self, win_path: str, content: bytes) -> None:
        """Put a file on the node (parents created)."""
        target = self.unix(win_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)

    def read(self, win_path: str) -> bytes | None:
        """A file's bytes, or ``None`` when there is none."""
        target = self.unix(win_path)
        return target.read_bytes() if target.is_file() else None

    def exists(self, win_path: str) -> bool:
        """True when a file or folder is there."""
        return self.unix(win_path).exists()

    # -- running
    def next_log(self) -> str:
        """A fresh recorder log path (Windows form)."""
        self.seq += 1
        return f"{JUDGE_DIR}\\logs\\rec-{self.seq:05d}.log"

    def records(self, log: str) -> tuple[Record, ...]:
        """The records in a recorder log so far."""
        data = self.read(log)
        return tuple(parse_records(data)) if data else ()

    def launch(self, steps: list[Step]) -> list[tuple[str, RunResult]]:
        """Run ``steps`` one after another in one launcher process; per step, its recorder log and
        what happened. Each step starts with the base environment plus its own additions."""
        wine = wine_binary()
        assert wine is not None
        self.seq += 1
        script = f"{JUDGE_DIR}\\logs\\steps-{self.seq:05d}.txt"
        results = f"{JUDGE_DIR}\\logs\\results-{self.seq:05d}.txt"
        lines = [f"D {CWD}"]
        logs = []
        known: set[str] = set()
        for step in steps:
            log = self.next_log()
            logs.append(log)
            env = {
                "PATH": BASE_PATH,
                "CLPREC_LOG": log,
                **step.env,
            }
            for name in known - set(env):
                lines.append(f"E {name}=")
            for name, value in env.items():
                lines.append(f"E {name}={value}")
            known = set(env)
            lines.append(f"T {step.timeout_ms}")
            lines.append(f"R {step.command_line}")
        self.write(script, "".join(line + "\n" for line in lines).encode("utf-8"))
        proc = subprocess.Popen(
            [wine, f"{BIN_DIR}\\clpjudge-launcher.exe", script, results],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # The results file is the answer. Wine's loader process sometimes lingers after the launcher
        # has written every result and returned (seen after a START detached a process): once all
        # results are in, it gets two seconds to go, then it is stopped.
        deadline = time.monotonic() + 60 + sum(s.timeout_ms for s in steps) / 1000
        done_at: float | None = None
        while proc.poll() is None:
            now = time.monotonic()
            if done_at is None and len((self.read(results) or b"").splitlines()) >= len(steps):
                done_at = now
            if (done_at is not None and now - done_at > 2) or now > deadline:
                proc.kill()
                proc.wait()
                break
            time.sleep(0.05)
        raw = (self.read(results) or b"").decode("ascii").splitlines()
        assert len(raw) == len(steps), f"the launcher reported {len(raw)} of {len(steps)} runs: {raw}"
        out = []
        for log, line in zip(logs, raw, strict=False):
            words = line.split()
            retried = words[-1] == "retried"
            if words[0] == "ERR":
                result = RunResult(None, 0, error=int(words[1]), retried=retried)
            elif words[0] == "TIMEOUT":
                result = RunResult(None, int(words[1]), timeout=True, retried=retried)
            else:
                result = RunResult(int(words[0]), int(words[1]), retried=retried, records=self.records(log))
            out.append((log, result))
        return out

    def wait_for_records(self, log: str, count: int, seconds: float = 20.0) -> tuple[Record, ...]:
        """The records of ``log`` once there are ``count`` of them (a detached process writes
        them), or what there is after ``seconds``."""
        end = time.monotonic() + seconds
        while True:
            got = self.records(log)
            if len(got) >= count or time.monotonic() > end:
                return got
            time.sleep(0.1)

    def wait_idle(self, seconds: float) -> None:
        """Give processes still running in the prefix (a detached START) ``seconds`` to end."""
        time.sleep(seconds)
