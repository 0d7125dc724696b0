"""PowerShell Remoting sessions (PSRP over WinRM) through pypsrp.

One :class:`PsrpSession` per node holds **one** ``RunspacePool``, opened lazily on the first call,
reused for every call, closed by :meth:`PsrpSession.close`. Each remote operation is one pipeline:
``PowerShell(pool).add_script(op.text)`` plus one ``add_parameter(name, value)`` per parameter —
values are never spliced into the script — run with ``begin_invoke()`` / ``poll_invoke()`` under
the connection's overall ``deadline``. Past the deadline the pipeline is stopped on the node and
:class:`~clpbackup.errors.NodeTimeout` is raised.

Round trips: opening the pool is a WS-Man Create and a Receive; each operation is a Command and
a Receive (more Receives only while the node is still working, more Sends only for a payload
above the envelope size); closing is a Delete. A deploy (open, inspect, apply, close) is seven
requests.

Works with every PSRP protocol version a supported node speaks: 2.1 (PowerShell 2.0 on 2003, 2008,
2008 R2), 2.2 (PowerShell 3.0) and 2.3 (4.0+); the remote operations use nothing newer than 2.1.

Reads (pool open, ``inspect``) are retried by the session's
:class:`~clpbackup.transport.retry.RetryPolicy`; ``apply`` never is (see that module).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pypsrp.complex_objects import PSInvocationState
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from clpbackup.errors import ClpBackupError, NodeTimeout, RemoteCommandFailed
from clpbackup.transport import remote_ops
from clpbackup.transport._connect import open_wsman
from clpbackup.transport._errors import is_network_error, map_error, mark, pool_is_broken, redact
from clpbackup.transport._logging import log
from clpbackup.transport._remote import WinRMSession
from clpbackup.transport._wire import (
    apply_parameters,
    inspect_parameters,
    parse_apply,
    parse_inspect,
    select_output,
)
from clpbackup.transport.retry import RetryPolicy
from clpbackup.transport.types import ApplyRequest, ApplyResult, InspectRequest, InspectResult

if TYPE_CHECKING:  # pragma: no cover

    from clpbackup.plan import Connection

__all__ = ["PowerShell", "PsrpSession", "RunspacePool", "WSMan"]

_STATE_NAMES = {
    PSInvocationState.STOPPED: "stopped",
    PSInvocationState.FAILED: "failed",
    PSInvocationState.DISCONNECTED: "disconnected",
}


class PsrpSession(WinRMSession):
    """A PowerShell Remoting session with one node.

    ``host`` is where to connect (the plan's ``nodes[].host``); ``connection`` the node's effective
    connection settings (``plan.connection_for(node)``). Nothing is sent before the first call.
    """

    def __init__(
        self,
        node: str,
        host: str,
        connection: Connection,
        *,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(node, host, connection, retry=retry, clock=clock)
        self._pool: RunspacePool | None = None
        #: PSRP protocol version the node answered with ("2.1", "2.2", "2.3"); None before open.
        self.protocol_version: str | None = None
        #: PowerShell version the node reported in its session capability; None before open.
        self.ps_version: str | None = None

    # -- description ------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True while a runspace pool is open on the node."""
        return self._pool is not None

    def __repr__(self) -> str:
        c = self.connection
        state = "open" if self._pool is not None else "closed"
        return (
            f"PsrpSession(node={self.node!r}, endpoint={self.endpoint!r}, auth={c.auth!r}, "
            f"username={c.username!r}, {state})"
        )

    # -- the pool ---------------------------------------------------------------------------------

    def _open_pool(self) -> RunspacePool:
        """Open a fresh pool (one try). A pool that fails to open is discarded."""
        started = self._clock()
        wsman, secret = open_wsman(self.node, self.host, self.connection)
        self._secret = secret
        pool = RunspacePool(wsman)
        try:
            pool.open()
        except Exception as exc:
            err = map_error(exc, node=self.node, phase="open", secret=secret)
            self._close_quietly(wsman, pool, send_delete=not is_network_error(err))
            raise self._chain(err, exc) from None
        self._wsman, self._pool = wsman, pool
        self._note_delegation(wsman)
        self.protocol_version = pool.protocol_version
        self.ps_version = pool.ps_version
        log.info(
            "%s: runspace pool open (PSRP %s, %s) in %.2f s",
            self.node,
            self.protocol_version,
            self.endpoint,
            self._clock() - started,
        )
        return pool

    def _ensure_pool(self) -> RunspacePool:
        """The open pool; opening it is a read and is retried by the policy."""
        if self._pool is not None:
            return self._pool
        return self.retry.call(self._open_pool, what="open", node=self.node, on_retry=self._discard)

    def _ensure_open(self) -> None:
        self._ensure_pool()

    def _discard(self, exc: BaseException | None = None) -> None:
        """Forget the current pool (after a failure); close it on the node when it is reachable."""
        wsman, pool = self._wsman, self._pool
        self._wsman = self._pool = None
        if wsman is None and pool is None:
            return
        reachable = exc is None or not is_network_error(exc)
        self._close_quietly(wsman, pool, send_delete=reachable)

    def _close_quietly(self, wsman: WSMan | None, pool: RunspacePool | None, *, send_delete: bool) -> None:
        if pool is not None and send_delete:
            try:
                pool.close()
            except Exception as exc:  # the pool is being thrown away; the node drops it on idle timeout
                log.debug("%s: closing a broken runspace pool failed: %s", self.node, type(exc).__name__)
        if wsman is not None:
            wsman.close()

    # -- one pipeline -----------------------------------------------------------------------------

    def _invoke(self, op_name: str, parameters: Mapping[str, Any], pool: RunspacePool) -> list[Any]:
        """Run one remote operation as one pipeline; its output objects."""
        op = remote_ops.load(op_name)
        deadline = self.connection.deadline
        started = self._clock()
        ps = PowerShell(pool)
        ps.add_script(op.text)
        for name, value in parameters.items():
            ps.add_parameter(name, value)
        try:
            ps.begin_invoke()
            while ps.state == PSInvocationState.RUNNING:
                remaining = started + deadline - self._clock()
                if remaining <= 0:
                    self._stop(ps)
                    timeout = NodeTimeout(
                        f"{op.name} did not finish within the deadline of {deadline} s and was stopped",
                        node=self.node,
                        hint="a command on the node may hang; raise connection.deadline if the node is slow",
                    )
                    raise mark(timeout, broken=True)
                ps.poll_invoke(timeout=max(1, min(self.connection.operation_timeout, math.ceil(remaining))))
        except ClpBackupError as known:
            if pool_is_broken(known):
                self._discard(known)
            raise
        except Exception as exc:
            mapped = map_error(exc, node=self.node, phase=op.name, secret=self._secret)
            if pool_is_broken(mapped):
                self._discard(mapped)
            raise self._chain(mapped, exc) from None
        elapsed = self._clock() - started
        if ps.state != PSInvocationState.COMPLETED:
            errors = self._error_text(ps)
            state = _STATE_NAMES.get(ps.state, str(ps.state))
            raise RemoteCommandFailed(
                f"the {op.name} pipeline {state} on the node: {errors or 'no error record'}",
                node=self.node,
                stderr=errors,
                hint="PowerShell 2.0 or later must be usable through WinRM; see the error text",
            )
        if ps.streams.error:
            log.warning(
                "%s: %s v%d reported %d error record(s)",
                self.node,
                op.name,
                op.version,
                len(ps.streams.error),
            )
        log.info("%s: %s v%d completed in %.2f s", self.node, op.name, op.version, elapsed)
        return list(ps.output)

    def _stop(self, ps: PowerShell) -> None:
        try:
            ps.stop()
        except Exception as exc:  # the deadline error is what the caller needs; note this one
            log.warning("%s: stopping the pipeline failed: %s", self.node, type(exc).__name__)

    def _error_text(self, ps: PowerShell) -> str:
        texts = []
        for record in ps.streams.error:
            text = str(record).strip() or str(getattr(record, "message", "") or "")
            if text:
                texts.append(text)
        return redact("\n".join(texts), self._secret)[:2000]

    # -- the operations ---------------------------------------------------------------------------

    def inspect(self, request: InspectRequest) -> InspectResult:
        """Read facts, files and command output in one pipeline; retried on transient failures."""
        params = inspect_parameters(request, codepage=self.codepage, command_timeout=self.connection.deadline)
        log.debug(
            "%s: inspect: facts=%s, %d hash, %d read, %d command(s)",
            self.node,
            request.want_facts,
            len(request.hash_paths),
            len(request.read_paths),
            len(request.commands),
        )

        def attempt() -> InspectResult:
            pool = self._pool if self._pool is not None else self._open_pool()
            output = self._invoke("inspect", params, pool)
            return parse_inspect(select_output(output, "inspect", self.node), request, node=self.node)

        return self.retry.call(attempt, what="inspect", node=self.node, on_retry=self._discard)

    def apply(self, request: ApplyRequest) -> ApplyResult:
        """Write, delete, run in one pipeline. Never retried: on failure, re-inspect and diff."""
        params = apply_parameters(request, codepage=self.codepage, command_timeout=self.connection.deadline)
        log.debug(
            "%s: apply: %d write(s) (%d bytes), %d delete(s), %d command(s)",
            self.node,
            len(request.writes),
            sum(len(w.content) for w in request.writes),
            len(request.deletes),
            len(request.commands),
        )
        pool = self._ensure_pool()
        output = self._invoke("apply", params, pool)
        return parse_apply(select_output(output, "apply", self.node), request, node=self.node)

    def close(self) -> None:
        """Close the runspace pool on the node (one WS-Man Delete). Safe to call twice."""
        wsman, pool = self._wsman, self._pool
        self._wsman = self._pool = None
        self._secret = None
        if pool is not None:
            try:
                pool.close()
            except Exception as exc:
                err = map_error(exc, node=self.node, phase="close")
                log.warning("%s: closing the runspace pool failed (%s)", self.node, err.message)
            else:
                log.info("%s: runspace pool closed", self.node)
        if wsman is not None:
            wsman.close()
