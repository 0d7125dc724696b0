"""Typed errors of clpbackup.

Every error clpbackup raises derives from :class:`ClpBackupError`. Messages say what went wrong,
where (plan field, node, rule ID) and what to do next. No message, ``str()`` or ``repr()`` of an
error ever contains a secret: errors are built from values that are not secrets, and the
transport redacts anything it echoes back from a node.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.rules import Finding


E = TypeVar("E", bound="ClpBackupError")


class ClpBackupError(Exception):
    """Base class of every error clpbackup raises.

    ``node`` names the cluster node the error belongs to (``None`` for errors about the plan or the
    operator's machine). ``hint`` says what to do next. ``rule`` is the rule ID the error is about,
    when one applies. The text (``str()``) is computed from these fields each time, so naming the
    node (:meth:`with_node`) or adding advice (:meth:`add_hint`) later never leaves a stale message.
    """

    rule: str | None = None

    def __init__(self, message: str, *, node: str | None = None, hint: str | None = None) -> None:
        self.message = message
        self.node = node
        self.hint = hint
        super().__init__(message)

    @property
    def detail(self) -> str:
        """The message with what the error type adds to it (the plan field …), without the node,
        rule and hint: the line a per-node problem list shows under the rule."""
        return self.message

    def __str__(self) -> str:
        text = f"{self.rule}: {self.detail}" if self.rule else self.detail
        if self.node:
            text = f"[{self.node}] {text}"
        if self.hint:
            text += f" — {self.hint}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle as type(*args); the subclasses' keyword-only and computed fields do not
        # fit that, so the fields are restored as they are (none of them is a secret).
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))

    def with_node(self: E, node: str) -> E:
        """Name the node this error belongs to, unless it names one already; returns the error."""
        if self.node is None:
            self.node = node
        return self

    def add_hint(self: E, hint: str) -> E:
        """Put ``hint`` in front of the advice the error already gives; returns the error."""
        self.hint = f"{hint}; {self.hint}" if self.hint else hint
        return self


def _rebuild(cls: type[ClpBackupError], args: tuple[Any, ...], fields: dict[str, Any]) -> ClpBackupError:
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(fields)
    return err


class PlanError(ClpBackupError):
    """The plan cannot be used: it does not load, does not validate, or breaks a rule.

    ``findings`` holds the rule findings (errors first) when the plan was rejected by a rule check;
    ``field`` names the plan field (a dotted path such as ``jobs.shared-daily.target``) when the
    problem is one field, and ``line`` its line in the plan file; the text puts them in front of the
    message (``field (line N): message``).
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
        findings: Sequence[Finding] = (),
        hint: str | None = None,
    ) -> None:
        self.field = field
        self.line = line
        self.findings = list(findings)
        super().__init__(message, hint=hint)

    @property
    def detail(self) -> str:
        """``field (line N): message`` (the parts that are known)."""
        if not self.field:
            return self.message
        if self.line is not None:
            return f"{self.field} (line {self.line}): {self.message}"
        return f"{self.field}: {self.message}"


class QuotingError(PlanError):
    """A value cannot be carried safely into a command line, batch file or PowerShell literal.

    Raised by :mod:`clpbackup.winquote`; ``field`` names the plan field the value came from.
    """


class UnsupportedError(ClpBackupError):
    """The requested combination is not supported on the node's OS or tool (rule OS-1 and friends)."""


class ConnectionFailed(ClpBackupError):
    """The node could not be reached over WinRM (DNS, TCP, TLS, HTTP or WS-Man level)."""


class AuthenticationFailed(ClpBackupError):
    """The node refused the credentials (HTTP 401) or the authentication exchange failed."""


class NodeTimeout(ClpBackupError):
    """An operation on the node did not finish before its deadline; it was stopped where possible."""


class RemoteCommandFailed(ClpBackupError):
    """A command on the node ended with an error.

    ``argv``, ``rc``, ``stdout`` and ``stderr`` say what ran and what it printed.
    """

    def __init__(
        self,
        message: str,
        *,
        node: str | None = None,
        argv: Sequence[str] = (),
        rc: int | None = None,
        stdout: str = "",
        stderr: str = "",
        hint: str | None = None,
    ) -> None:
        self.argv = list(argv)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(message, node=node, hint=hint)


class ParseError(ClpBackupError):
    """Tool output could not be understood.

    ``tool`` names the tool (``wbadmin get versions``, ``schtasks /query`` …) and ``first_lines``
    holds the beginning of the text, so the operator can see what the node printed.
    """

    def __init__(
        self, tool: str, text: str, reason: str, *, node: str | None = None, hint: str | None = None
    ) -> None:
        self.tool = tool
        lines = text.splitlines()[:5]
        self.first_lines = lines
        shown = " | ".join(line.strip() for line in lines if line.strip())[:300] or "<empty>"
        super().__init__(
            f"cannot parse the output of {tool}: {reason}; it began with: {shown}",
            node=node,
            hint=hint or "clpbackup reads en-US and ja-JP output; report the output if this is a real tool",
        )


class PreflightFailed(ClpBackupError):
    """A node is not ready for the operation (wrong OS, WSB missing, code page, scripts_dir …).

    ``rule`` names the rule ID (OS-1, OS-3, SCH-4 …) when one applies; it is a field, and the text
    shows it in front of the message.
    """

    def __init__(
        self, message: str, *, node: str | None = None, rule: str | None = None, hint: str | None = None
    ) -> None:
        self.rule = rule
        super().__init__(message, node=node, hint=hint)


class Cancelled(ClpBackupError):
    """The operation was interrupted (Ctrl-C) before it finished on this node.

    The message says what was written on the node before the stop and that nothing more was
    started; running the operation again converges (deploy reads the node and applies what is
    missing).
    """


class OwnerUnknown(ClpBackupError):
    """Which node owns a switchover volume could not be decided from evidence; nothing was started."""


class NodeBusy(ClpBackupError):
    """LOCK-1: another clpbackup holds the node's write lock (the message names the holder), or the
    node kept changing under the lock; nothing was changed by this call."""


class NotSimulated(ClpBackupError):
    """The simulator was asked for something its model of a Windows node does not cover."""


def describe(exc: BaseException) -> dict[str, Any]:
    """A JSON-friendly description of an error (type and message; never a secret)."""
    out: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    node = getattr(exc, "node", None)
    if node:
        out["node"] = node
    return out
