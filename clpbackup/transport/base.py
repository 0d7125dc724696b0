"""The :class:`Session` interface: what the operations layer asks of a node.

Two calls do the work — :meth:`Session.inspect` (read everything in one pipeline) and
:meth:`Session.apply` (change everything in one pipeline), the remote operations ``inspect`` v1 and
``apply`` v1 of ``docs/design.md``. The other methods are thin conveniences over those two:
:meth:`~Session.facts`, :meth:`~Session.run`, :meth:`~Session.read_file`,
:meth:`~Session.write_file`, :meth:`~Session.file_hash`, :meth:`~Session.delete_file`.

A session is bound to one node, opens its connection lazily on the first call, reuses it for every
call, and releases it in :meth:`~Session.close` (also as a context manager).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType

from clpbackup.errors import RemoteCommandFailed
from clpbackup.transport.types import (
    ApplyRequest,
    ApplyResult,
    CommandResult,
    CommandSpec,
    FileWrite,
    InspectRequest,
    InspectResult,
    NodeFacts,
)

__all__ = ["Session"]


class Session(ABC):
    """A connection to one node. Subclasses: :class:`~clpbackup.transport.psrp.PsrpSession`,
    :class:`~clpbackup.transport.winrs.WinrsSession`."""

    #: The node's name in the plan; every error a session raises names it.
    node: str

    def __init__(self, node: str) -> None:
        self.node = node

    # -- the two operations -----------------------------------------------------------------------

    @abstractmethod
    def inspect(self, request: InspectRequest) -> InspectResult:
        """Read facts, files and command output in one pipeline (changes nothing; may be retried)."""

    @abstractmethod
    def apply(self, request: ApplyRequest) -> ApplyResult:
        """Write files, delete files, then run commands, in one pipeline (never retried blindly)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection (the runspace pool or shell on the node). Safe to call twice."""

    def delegation(self) -> bool:
        """True when the connection carries the user's delegated credentials (Kerberos delegation),
        so the node's session can authenticate to a third machine (the second hop). Opens the
        connection when needed. A session that cannot delegate answers False."""
        return False

    # -- conveniences -----------------------------------------------------------------------------

    def facts(
        self, *, probe_volumes: Sequence[str] = (), scripts_dir: str | None = None, clpstat: bool = False
    ) -> NodeFacts:
        """What the node says about itself (one ``inspect``)."""
        result = self.inspect(
            InspectRequest(
                want_facts=True, probe_volumes=probe_volumes, scripts_dir=scripts_dir, clpstat=clpstat
            )
        )
        assert result.facts is not None  # parse_inspect guarantees facts when asked for
        return result.facts

    def run(
        self,
        commands: Sequence[CommandSpec],
        *,
        read_only: bool = False,
        stop_on_error: bool = False,
        timeout: int | None = None,
    ) -> list[CommandResult]:
        """Run native commands in order, all in ONE pipeline; one result per command.

        ``read_only=True`` sends them with ``inspect`` (for queries: a read may be retried);
        otherwise with ``apply`` (never retried). ``stop_on_error`` (apply only) skips the commands
        after the first failure (``ran=False``). ``timeout`` is the per-command limit on the node
        in seconds (default: the connection's deadline).
        """
        if not commands:
            return []
        if read_only:
            if stop_on_error:
                raise ValueError("stop_on_error needs read_only=False (inspect runs every command)")
            got = self.inspect(InspectRequest(want_facts=False, commands=commands, command_timeout=timeout))
            return got.commands
        return self.apply(
            ApplyRequest(commands=commands, stop_on_error=stop_on_error, command_timeout=timeout)
        ).commands

    def read_file(self, path: str) -> bytes | None:
        """The exact bytes of a file on the node; ``None`` when it does not exist."""
        state = self.inspect(InspectRequest(want_facts=False, read_paths=[path])).files[path]
        if state.error:
            raise RemoteCommandFailed(f"cannot read {path}: {state.error}", node=self.node)
        return state.content if state.sha256 is not None else None

    def file_hash(self, path: str) -> str | None:
        """SHA-256 (lower hex) of a file on the node; ``None`` when it does not exist."""
        state = self.inspect(InspectRequest(want_facts=False, hash_paths=[path])).files[path]
        if state.error:
            raise RemoteCommandFailed(f"cannot hash {path}: {state.error}", node=self.node)
        return state.sha256

    def write_file(self, path: str, data: bytes) -> bool:
        """Put ``data`` at ``path`` atomically (temp file + rename on the node); parents are
        created. Nothing is written when the file already has these bytes. Returns ``changed``."""
        result = self.apply(ApplyRequest(writes=[FileWrite(path=path, content=data)])).files[0]
        if result.error:
            raise RemoteCommandFailed(f"cannot write {path}: {result.error}", node=self.node)
        return result.changed

    def delete_file(self, path: str) -> bool:
        """Delete a file on the node; ``True`` when it existed and is gone, ``False`` when missing."""
        result = self.apply(ApplyRequest(deletes=[path]))
        if path in result.delete_errors:
            raise RemoteCommandFailed(f"cannot delete {path}: {result.delete_errors[path]}", node=self.node)
        return any(p.lower() == path.lower() for p in result.deleted)

    # -- context manager --------------------------------------------------------------------------

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(node={self.node!r})"


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data`` (what the node reports for a file)."""
    return hashlib.sha256(data).hexdigest()
