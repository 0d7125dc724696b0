"""What the two WinRM sessions (PSRP and WinRS) share.

The node's connection settings are checked before anything goes on the wire, the chatty libraries
are kept quiet, reads get the retry policy, and the password is held only to redact it from texts
that come back from the node — never shown, never logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from clpbackup.errors import ClpBackupError
from clpbackup.transport._connect import check_connection, credentials_delegated
from clpbackup.transport._logging import quiet_libraries
from clpbackup.transport.base import Session
from clpbackup.transport.retry import RetryPolicy

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import SecretStr
    from pypsrp.wsman import WSMan

    from clpbackup.plan import Connection


class WinRMSession(Session):
    """Base of :class:`~clpbackup.transport.psrp.PsrpSession` and
    :class:`~clpbackup.transport.winrs.WinrsSession`.

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
        super().__init__(node)
        # Refuse insecure or inconsistent settings before anything goes on the wire.
        check_connection(node, connection)
        quiet_libraries()
        self.host = host
        self.connection = connection
        self.retry = retry if retry is not None else RetryPolicy()
        self._clock = clock
        self._wsman: WSMan | None = None
        # Only to redact the password from texts that come back from the wire; never shown.
        self._secret: SecretStr | None = None
        #: Whether the open connection's handshake delegated the user's ticket (None: not open yet).
        self.delegated: bool | None = None

    def _note_delegation(self, wsman: WSMan) -> None:
        """Record what the handshake that just opened the connection gave (see :meth:`delegation`)."""
        self.delegated = credentials_delegated(wsman)
        if self.connection.delegate:
            from clpbackup.transport._logging import log

            log.info("%s: Kerberos delegation %s", self.node, "granted" if self.delegated else "NOT granted")

    def _ensure_open(self) -> None:
        """Open the pool or shell (a read: retried by the policy)."""
        raise NotImplementedError

    def delegation(self) -> bool:
        """True when the handshake delegated the user's Kerberos ticket (``connection.delegate``
        asked for it and the ticket, the node's trust and the client library allowed it)."""
        if not self.connection.delegate:
            return False
        self._ensure_open()
        return bool(self.delegated)

    @property
    def endpoint(self) -> str:
        """``http(s)://host:port/path`` of the node's WinRM listener."""
        c = self.connection
        scheme = "https" if c.ssl else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{c.effective_port}/{c.path or 'wsman'}"

    @property
    def codepage(self) -> int:
        """The code page native output is decoded with (the plan's ``connection.codepage``)."""
        return self.connection.codepage

    def _chain(self, err: ClpBackupError, cause: BaseException) -> ClpBackupError:
        """Keep the original exception as ``__cause__`` unless its text would show the password."""
        secret = self._secret.get_secret_value() if self._secret is not None else ""
        if not secret or secret not in f"{cause!s} {cause!r}":
            err.__cause__ = cause
        return err
