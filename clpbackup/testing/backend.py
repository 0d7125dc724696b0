"""The interface between the simulator's WinRM endpoint and the model of a Windows node.

The server half (:mod:`clpbackup.testing.server` and friends) speaks WS-Man, PSRP and WinRS on the
wire; everything it is asked to *do* goes to a :class:`NodeBackend` (see ``docs/design.md``, "The
simulator's two halves"):

* a PSRP pipeline is one script: :meth:`NodeBackend.invoke_script` gets its text, its named
  parameters and its pipeline input, and answers a :class:`ScriptOutcome`;
* a WinRS command is one cmd.exe command line: :meth:`NodeBackend.run_command_line` answers the exit
  code and the stdout/stderr bytes, already in the node's OEM code page.

Both run on a worker thread of the server, so a long call blocks neither other shells nor the
client's long-polling Receive. When the client stops the pipeline (``PowerShell.stop()``, a WinRS
``ctrl_c``/``terminate`` signal or deleting the shell), the server sets the call's cancellation
event; a backend that models long work polls :func:`current_cancel_event` and returns early. A
backend that never looks at it still works: its late result is simply discarded.

:class:`EchoBackend` is a tiny backend for testing the wire itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = [
    "EchoBackend",
    "NodeBackend",
    "PipelineCommand",
    "ScriptOutcome",
    "cancellation_scope",
    "current_cancel_event",
]


@dataclass
class ScriptOutcome:
    """What one PSRP pipeline produced."""

    output: list[Any]  # objects to send as PSRP output (dicts become Hashtables)
    errors: list[str]  # error records: the pipeline still completes; they fill pypsrp's streams.error


@dataclass(frozen=True)
class PipelineCommand:
    """One command of a PSRP pipeline, for the optional ``invoke_pipeline(commands, input)``.

    A backend that has that method also gets the pipelines outside the one-script shape (several
    commands, positional arguments), such as pypsrp's ``Client.copy`` and ``Client.execute_ps``;
    see ``docs/design.md``. ``parameters`` keeps their order; a ``None`` name is a positional argument.
    """

    text: str  # the script, or the cmdlet's name
    is_script: bool
    parameters: list[tuple[str | None, Any]]


@runtime_checkable
class NodeBackend(Protocol):
    """The model of one Windows node, as the WinRM endpoint sees it (``docs/design.md``)."""

    name: str
    protocol_version: str  # PSRP protocolversion: "2.1" (PS 2.0), "2.2" (PS 3.0), "2.3" (PS 4.0+)
    ps_version: str  # "2.0" | "3.0" | "4.0"
    codepage: int  # OEM code page: 437 (en-US) or 932 (ja-JP)

    def invoke_script(self, script: str, parameters: dict[str, Any], input: list[Any]) -> ScriptOutcome:
        """Run one pipeline: a script with named parameters and pipeline input."""
        ...

    def run_command_line(self, command_line: str) -> tuple[int, bytes, bytes]:
        """Run one WinRS cmd command line; answer (rc, stdout, stderr) in the node's code page."""
        ...


# --- cancellation -------------------------------------------------------------------------------

_local = threading.local()
_NEVER = threading.Event()  # returned outside a backend call; never set


def current_cancel_event() -> threading.Event:
    """The cancellation event of the backend call running on this thread.

    The server sets it when the client stops the pipeline (PSRP ``ctrl_c``), signals the WinRS
    command, deletes the shell or the server stops. Outside a backend call it is an event that is
    never set, so a backend can call this unconditionally.
    """
    event: threading.Event | None = getattr(_local, "event", None)
    return event if event is not None else _NEVER


@contextmanager
def cancellation_scope(event: threading.Event) -> Iterator[threading.Event]:
    """Make ``event`` the :func:`current_cancel_event` of this thread for the block (server use)."""
    previous = getattr(_local, "event", None)
    _local.event = event
    try:
        yield event
    finally:
        _local.event = previous


T = TypeVar("T")


def run_cancellable(event: threading.Event, fn: Callable[..., T], *args: Any, delegated: bool = False) -> T:
    """Call ``fn(*args)`` with ``event`` as the thread's cancellation event; ``delegated``: the
    shell's logon carries delegated credentials (see :func:`session_delegated`)."""
    previous = getattr(_local, "delegated", False)
    _local.delegated = delegated
    try:
        with cancellation_scope(event):
            return fn(*args)
    finally:
        _local.delegated = previous


def session_delegated() -> bool:
    """True while a backend call runs for a shell whose creator delegated its credentials
    (Kerberos with a forwarded ticket): the logon then reaches network shares (the second hop)."""
    return bool(getattr(_local, "delegated", False))


# --- a backend for wire tests -------------------------------------------------------------------

_NOT_RECOGNIZED = (
    "'{name}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
)


@dataclass
class EchoBackend:
    """A backend that echoes what it receives; for tests of the WinRM endpoint itself.

    ``invoke_script`` answers one Hashtable ``{"script", "parameters", "input"}`` echoing the call,
    except when these parameters are present:

    * ``Output`` (list): answer these objects instead of the echo;
    * ``Errors`` (list of str): also emit these error records;
    * ``Raise`` (str): raise ``RuntimeError(Raise)`` (a failed pipeline);
    * ``Sleep`` (number): wait that many seconds first, returning early (and recording the call in
      :attr:`cancelled`) when the call is cancelled.

    ``run_command_line`` understands ``echo <text>``, ``exit <n>``, ``fail <text>`` (stderr, rc 1),
    ``sleep <seconds>`` (cancellable; rc 0, or rc 1 and "cancelled" when cancelled) and the lines
    given in :attr:`commands`; anything else answers cmd.exe's "is not recognized" with rc 9009.
    Text is encoded with :attr:`codepage`.
    """

    name: str = "echo"
    protocol_version: str = "2.3"
    ps_version: str = "4.0"
    codepage: int = 437
    commands: dict[str, tuple[int, bytes, bytes]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any], list[Any]]] = field(default_factory=list)
    command_lines: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    def invoke_script(self, script: str, parameters: dict[str, Any], input: list[Any]) -> ScriptOutcome:
        """Echo the call (see the class docstring for the control parameters)."""
        self.calls.append((script, parameters, input))
        sleep = parameters.get("Sleep")
        if sleep:
            deadline = time.monotonic() + float(sleep)
            cancel = current_cancel_event()
            while not cancel.is_set() and time.monotonic() < deadline:
                cancel.wait(0.02)
            if cancel.is_set():
                self.cancelled.append(script)
                return ScriptOutcome(output=[], errors=[])
        if parameters.get("Raise"):
            raise RuntimeError(str(parameters["Raise"]))
        errors = [str(e) for e in parameters.get("Errors") or []]
        if "Output" in parameters:
            output = list(parameters["Output"] or [])
        else:
            output = [{"script": script, "parameters": parameters, "input": input}]
        return ScriptOutcome(output=output, errors=errors)

    def run_command_line(self, command_line: str) -> tuple[int, bytes, bytes]:
        """Answer a few cmd.exe built-ins (see the class docstring)."""
        self.command_lines.append(command_line)
        if command_line in self.commands:
            return self.commands[command_line]
        enc = f"cp{self.codepage}"
        word, _, rest = command_line.partition(" ")
        verb = word.lower()
        if verb == "echo":
            return 0, (rest + "\r\n").encode(enc), b""
        if verb == "exit":
            return int(rest.strip() or "0"), b"", b""
        if verb == "fail":
            return 1, b"", (rest + "\r\n").encode(enc)
        if verb == "sleep":
            cancel = current_cancel_event()
            if cancel.wait(float(rest.strip() or "0")):
                self.cancelled.append(command_line)
                return 1, b"", b"cancelled\r\n"
            return 0, b"", b""
        return 9009, b"", _NOT_RECOGNIZED.format(name=word).encode(enc)
