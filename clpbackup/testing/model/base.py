"""Small types shared by the parts of the node model: tool results, processes, environments."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class ToolResult:
    """What a program (or a cmd.exe statement) did: exit code, stdout, stderr (text, CRLF)."""

    rc: int
    out: str = ""
    err: str = ""

    def __add__(self, other: ToolResult) -> ToolResult:
        return ToolResult(other.rc, self.out + other.out, self.err + other.err)


def lines(*items: str) -> str:
    """Join lines as a console program prints them: CRLF after each."""
    return "".join(item.replace("\n", "\r\n") + "\r\n" for item in items)


class Env:
    """A Windows environment block: names are case-insensitive, their case is kept."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self._d: dict[str, tuple[str, str]] = {}
        for k, v in (values or {}).items():
            self.set(k, v)

    def get(self, name: str) -> str | None:
        item = self._d.get(name.upper())
        return item[1] if item else None

    def set(self, name: str, value: str | None) -> None:
        """Set a variable; ``None`` or ``''`` removes it (as ``set NAME=`` does)."""
        if value is None or value == "":
            self._d.pop(name.upper(), None)
        else:
            self._d[name.upper()] = (name, value)

    def copy(self) -> Env:
        e = Env()
        e._d = dict(self._d)
        return e

    def items(self) -> Iterator[tuple[str, str]]:
        for key in sorted(self._d):
            yield self._d[key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.upper() in self._d


@dataclass
class Proc:
    """A running cmd.exe (or program): who runs it, its environment and current folder.

    ``errorlevel`` is cmd.exe's ``%ERRORLEVEL%``; ``echo`` its echo state in a batch file.
    ``network_logon``: started from a WinRM network logon without delegated credentials, so it
    cannot authenticate to a network share (the second hop); its children inherit that.
    """

    user: str
    env: Env
    cwd: str
    echo: bool = True
    errorlevel: int = 0
    depth: int = 0
    env_stack: list[tuple[Env, str]] = field(default_factory=list)
    network_logon: bool = False
    #: the file this process's stdout is redirected to while a statement runs (``> file``): a tool
    #: that writes as it goes (wbadmin's ``copied (NN%)``) puts its output there before it ends
    stdout_file: StdoutFile | None = None
    #: the batch file (or ``call :label`` subroutine) this cmd.exe is running, if any: ``call :label``
    #: needs its lines and labels (a child process starts outside any batch file)
    batch: BatchFrame | None = None

    def child(self) -> Proc:
        """A new process started from this one (inherits a copy of the environment, the logon and
        where its stdout goes)."""
        return Proc(
            self.user, self.env.copy(), self.cwd, depth=self.depth + 1, network_logon=self.network_logon,
            stdout_file=self.stdout_file,
        )


@dataclass
class BatchFrame:
    """One running batch context: the file's full path and the parameters ``%0``… of this context
    (``call :label`` gives the subroutine its own ``%0``–``%9`` and ``%*``).

    The file's lines are not kept: cmd.exe reads the next line from the file as it is on disk, at the
    byte offset where the previous one ended (docs/windows-facts.md, "cmd.exe reads a running batch
    file by byte offset")."""

    path: str  # the batch file's full path
    argv: list[str]  # %0, %1 ...
    star: str | None = None  # %* as typed after the label (None: the parameters joined by blanks)
    subroutine: bool = False


@dataclass
class StdoutFile:
    """A file a statement's stdout is redirected to: ``path`` (relative to ``cwd``), ``append``
    (``>>``); ``base`` is what the file held when a tool first wrote to it while running (``None``
    until then), so the statement's final write replaces those partial writes."""

    path: str
    cwd: str
    append: bool
    base: bytes | None = None


class BatchExit(Exception):
    """``exit /b N`` (``whole=False``) or ``exit N`` (``whole=True``: ends cmd.exe)."""

    def __init__(self, code: int, *, whole: bool, out: str = "", err: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.whole = whole
        self.out = out  # what the batch printed before it stopped
        self.err = err


class Goto(Exception):
    """``goto label`` inside a batch file."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.label = label


class CmdSyntaxError(Exception):
    """cmd.exe could not parse a statement: it prints ``message`` and stops the batch file."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
