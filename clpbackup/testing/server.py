"""A WinRM endpoint on 127.0.0.1 that an unmodified pypsrp client talks to over real HTTP(S).

:class:`WinRMServer` is the server half of the simulator (``docs/design.md``, "The simulator's two
halves"): HTTP/1.1 with keep-alive (NTLM authenticates a connection, not a request), NTLM or
SPNEGO(NTLM) with WinRM message encryption over HTTP, Basic or Negotiate inside TLS over HTTPS,
WS-Management (Create, Command, Send, Receive, Signal, Delete, Get, Enumerate) in front of WinRS cmd
shells (:mod:`~clpbackup.testing.winrs_host`) and PowerShell runspace pools
(:mod:`~clpbackup.testing.psrp_host`), all acting through a :class:`~clpbackup.testing.backend.NodeBackend`.

For tests and benchmarks it counts WS-Man requests, adds latency and injects faults::

    with WinRMServer(EchoBackend(), username="EXAMPLE\\\\admin", password=pw) as srv:
        client = Client("127.0.0.1", port=srv.port, ssl=False, username=..., password=pw)
        srv.inject("drop", at=2)        # the second request from now: connection closed unanswered
"""

from __future__ import annotations

import base64
import binascii
import http.server
import logging
import select
import socket
import ssl as _ssl
import struct
import threading
import time
import warnings
from types import TracebackType
from typing import Any

from clpbackup.testing.auth import (
    AuthError,
    CredentialStore,
    NegotiateAcceptor,
    decode_basic,
    tls_channel_bindings,
    unwrap_message,
    wrap_message,
)
from clpbackup.testing.backend import NodeBackend
from clpbackup.testing.certs import SelfSignedCert, make_self_signed
from clpbackup.testing.psrp_host import PSRPShell
from clpbackup.testing.winrs_host import WinRSShell
from clpbackup.testing.wsman import (
    ACTION_COMMAND,
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_ENUMERATE,
    ACTION_GET,
    ACTION_RECEIVE,
    ACTION_SEND,
    ACTION_SIGNAL,
    NS,
    NS_CREATE,
    NS_DELETE,
    NS_RECEIVE,
    RESOURCE_CMD,
    RESOURCE_COMMAND,
    RESOURCE_CONFIG,
    RESOURCE_PSRP_PREFIX,
    RESOURCE_SHELL,
    HostInfo,
    Shell,
    WSManFault,
    WSManRequest,
    element,
    envelope,
    new_id,
    parse_request,
)

__all__ = ["FAULTS", "WinRMServer"]

log = logging.getLogger(__name__)

FAULTS = frozenset({"drop", "http500", "slow", "auth", "down"})
_MAX_OPERATION_TIMEOUT = 60.0  # MaxTimeoutms of a default WinRM service
_NS_GET_CONFIG = ("s", "a", "x", "w", "p")
_NS_ENUMERATE = ("s", "a", "n", "w", "rsp", "p")


class WinRMServer:
    """A simulated WinRM listener in front of one :class:`NodeBackend`.

    Args:
        backend: the node model (or :class:`~clpbackup.testing.backend.EchoBackend`).
        username: the account (``DOMAIN\\user``, ``user@domain`` or plain) clients must use.
        password: its password (what the plan's environment variable holds); never logged.
        ssl: listen with HTTPS (self-signed certificate, :attr:`ca_cert_path`); Basic and
            Negotiate without message encryption. Otherwise HTTP with Negotiate/NTLM and
            mandatory message encryption (Basic refused, as with AllowUnencrypted=false).
        host, port: where to listen (port 0: a free port, see :attr:`port` after :meth:`start`).
        server_assigned_ids: ignore client-proposed ShellId/CommandId and assign new uppercase
            GUIDs, as WinRM 2.0 (2003/2008/2008 R2) does. Default: when the backend speaks PSRP 2.1.
        record: keep every decrypted request body in :attr:`received` and the matching response
            envelope in :attr:`responses` (for secrets and fidelity tests).
        keytab: the node's Kerberos service keys (``host/<name>``, ``HTTP/<name>``, as
            :class:`~clpbackup.testing.kdc.TestRealm` exports them): Kerberos is then accepted too
            (needs the ``gssapi`` package), a client's delegated ticket gives its shells the second
            hop. Without it the node speaks NTLM (and Basic over TLS) only.
        negotiate: the service's ``Auth/Negotiate``. ``False`` is ``winrm set
            winrm/config/service/auth @{Negotiate="false"}``: the 401 offers ``Kerberos`` alone (with
            ``keytab``), NTLM and SPNEGO are refused, and clients seal with
            ``application/HTTP-Kerberos-session-encrypted``.
        second_hop: with ``keytab``, the services a delegated ticket must obtain tickets for
            before the session counts as able to reach shares (``cifs@<file server>``): the node
            asks the KDC with the client's ticket, as Windows does on the first share access.

    Attributes:
        requests: WS-Man requests that reached the SOAP layer (authenticated), injected faults
            included. Authentication legs are counted in :attr:`auth_requests` instead.
        latency: seconds added before answering each WS-Man request (settable while running).
        received: decrypted request bodies when :attr:`record` is true.
        responses: the response envelopes, index for index with :attr:`received` (``None`` when
            the connection was dropped or the answer was not a SOAP envelope).
    """

    def __init__(
        self,
        backend: NodeBackend,
        *,
        username: str,
        password: str,
        ssl: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        server_assigned_ids: bool | None = None,
        record: bool = False,
        keytab: str | None = None,
        second_hop: tuple[str, ...] = (),
        negotiate: bool = True,
    ) -> None:
        self.backend = backend
        self.username = username
        self.__password = password
        self.ssl = ssl
        self.host = host
        self.port = port
        self.server_assigned_ids = (
            backend.protocol_version == "2.1" if server_assigned_ids is None else server_assigned_ids
        )
        self.latency = 0.0
        self.record = record
        self.keytab = keytab
        self.second_hop = tuple(second_hop)
        self.negotiate = negotiate
        self.received: list[str] = []
        self.responses: list[str | None] = []
        self._lock = threading.Lock()
        self._requests = 0
        self._auth_requests = 0
        self._faults_at: dict[int, tuple[str, float]] = {}
        self._fault_always: tuple[str, float] | None = None
        self._shells: dict[str, Shell] = {}
        self._shells_lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._store: CredentialStore | None = None
        self._cert: SelfSignedCert | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"<WinRMServer {self.url} backend={getattr(self.backend, 'name', '?')!r} user={self.username!r}>"
        )

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> WinRMServer:
        """Listen and serve on a background thread; answers ``self``."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._store = CredentialStore(self.username, self.__password)
        ssl_context = None
        if self.ssl:
            self._cert = make_self_signed()
            ssl_context = _ssl.create_default_context(_ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(self._cert.cert_path, self._cert.key_path)
            _limit_tls(ssl_context, getattr(self.backend, "tls_versions", None))
        httpd = _HTTPServer((self.host, self.port), _Handler, self, ssl_context)
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"winrm-sim-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, close connections and shells, remove the credential and certificate files."""
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            _close_socket(conn, reset=False)
        with self._shells_lock:
            shells = list(self._shells.values())
            self._shells.clear()
        for shell in shells:
            shell.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._store is not None:
            self._store.remove()
            self._store = None
        if self._cert is not None:
            self._cert.remove()
            self._cert = None

    def __enter__(self) -> WinRMServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- public state ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/wsman`` (``https`` with ``ssl=True``)."""
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}/wsman"

    @property
    def ca_cert_path(self) -> str | None:
        """PEM file of the self-signed certificate (``ssl=True``, after :meth:`start`); pass it as
        pypsrp's ``cert_validation``."""
        return self._cert.cert_path if self._cert is not None else None

    @property
    def requests(self) -> int:
        """WS-Man requests that reached the SOAP layer (thread-safe)."""
        with self._lock:
            return self._requests

    @property
    def auth_requests(self) -> int:
        """Authentication legs (401 challenges, handshake completions)."""
        with self._lock:
            return self._auth_requests

    @property
    def max_envelope_size(self) -> int:
        """The service's MaxEnvelopeSizekb × 1024: 150 KiB on WinRM 2.0, 500 KiB on 3.0+."""
        return (150 if self.backend.protocol_version == "2.1" else 500) * 1024

    def shell_ids(self) -> list[str]:
        """Ids of the open shells (for tests)."""
        with self._shells_lock:
            return [s.shell_id for s in self._shells.values()]

    # --- faults ----------------------------------------------------------------------------------

    def inject(self, fault: str, at: int | None = None, *, seconds: float = 5.0) -> None:
        """Make the ``at``-th WS-Man request from now fail (``at=None``: every request until cleared).

        ``drop``: close the connection without answering. ``http500``: HTTP 500 with an
        ``InternalError`` WS-Man fault. ``slow``: wait ``seconds`` before answering (past the
        client's read timeout; a request whose client gave up is not carried out). ``auth``: HTTP
        401 as for a wrong password; every later handshake on that connection fails too (so the
        session's retries and clean-up see the same), new connections authenticate normally.
        ``down``: reset the connection like a host that is off; with ``at=None`` new connections
        are refused too.
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULTS)}")
        if at is not None and at < 1:
            raise ValueError("at counts requests from now and starts at 1 (the next request)")
        with self._lock:
            if at is None:
                self._fault_always = (fault, seconds)
            else:
                self._faults_at[self._requests + at] = (fault, seconds)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults_at.clear()
            self._fault_always = None

    def _count_request(self, body: bytes) -> tuple[int | None, tuple[str, float] | None]:
        """Count one SOAP request and record it; answer its record index and the fault to apply."""
        with self._lock:
            self._requests += 1
            index = None
            if self.record:
                index = len(self.received)
                self.received.append(body.decode("utf-8", "replace"))
                self.responses.append(None)
            fault = self._faults_at.pop(self._requests, None)
            return index, fault or self._fault_always

    def _record_response(self, index: int | None, xml: bytes) -> None:
        if index is not None and xml:
            with self._lock:
                self.responses[index] = xml.decode("utf-8", "replace")

    def _count_auth(self) -> None:
        with self._lock:
            self._auth_requests += 1

    def _always(self, fault: str) -> bool:
        with self._lock:
            return self._fault_always is not None and self._fault_always[0] == fault

    # --- WS-Man dispatch -------------------------------------------------------------------------

    def _host_info(self, client_ip: str, delegated: bool = False) -> HostInfo:
        return HostInfo(
            address=self.url,
            owner=self.username,
            client_ip=client_ip,
            protocol_version=self.backend.protocol_version,
            machine=self.host,
            delegated=delegated,
        )

    def dispatch(self, data: bytes, client_ip: str, *, delegated: bool = False) -> tuple[int, bytes]:
        """Answer one decrypted SOAP request: ``(HTTP status, response envelope)``. ``delegated``:
        the connection's logon holds delegated credentials (a shell it creates keeps them)."""
        winrm3 = self.backend.protocol_version != "2.1"
        if len(data) > self.max_envelope_size:
            # What WinRM answers when a request exceeds MaxEnvelopeSizekb.
            return 413, b""
        try:
            req = parse_request(data)
        except WSManFault as f:
            return 500, f.to_xml("", machine=self.host, activity_id=winrm3)
        try:
            body, namespaces = self._handle(req, client_ip, delegated)
        except WSManFault as f:
            return 500, f.to_xml(req.message_id, machine=self.host, activity_id=winrm3, lang=req.locale)
        except Exception as e:  # a simulator bug: answer like a broken service, log for the test output
            log.exception("simulator failed on %s", req.action)
            fault = WSManFault.internal_error(f"clpbackup simulator: {type(e).__name__}: {e}")
            return 500, fault.to_xml(req.message_id, machine=self.host, activity_id=winrm3, lang=req.locale)
        return 200, envelope(
            req.action + "Response",
            req.message_id,
            body,
            namespaces=namespaces,
            activity_id=winrm3,
            lang=req.locale,
        )

    def _handle(self, req: WSManRequest, client_ip: str, delegated: bool) -> tuple[str, tuple[str, ...]]:
        action = req.action
        if action == ACTION_CREATE:
            return self._create(req, client_ip, delegated), NS_CREATE
        if action == ACTION_GET:
            return self._get(req), _NS_GET_CONFIG if req.resource_uri == RESOURCE_CONFIG else NS_CREATE
        if action == ACTION_ENUMERATE:
            return self._enumerate(req), _NS_ENUMERATE
        if action not in (ACTION_COMMAND, ACTION_SEND, ACTION_RECEIVE, ACTION_SIGNAL, ACTION_DELETE):
            raise WSManFault.action_not_supported(action)
        shell = self._shell(req)
        shell.touch()
        if action == ACTION_COMMAND:
            proposed = req.body.get("CommandId") if req.body is not None else None
            command_id = new_id() if self.server_assigned_ids or not proposed else proposed.upper()
            return shell.command(req, command_id), NS_CREATE
        if action == ACTION_SEND:
            return shell.send(req), NS_CREATE
        if action == ACTION_RECEIVE:
            timeout = min(req.operation_timeout, _MAX_OPERATION_TIMEOUT)
            return shell.receive(req, time.monotonic() + timeout), NS_RECEIVE
        if action == ACTION_SIGNAL:
            return shell.signal(req), NS_CREATE
        # Delete
        with self._shells_lock:
            self._shells.pop(shell.shell_id.upper(), None)
        shell.close()
        return "", NS_DELETE

    def _shell(self, req: WSManRequest) -> Shell:
        shell_id = req.selectors.get("ShellId", "").upper()
        with self._shells_lock:
            shell = self._shells.get(shell_id)
        if shell is None or shell.closed:
            raise WSManFault.unknown_shell()
        return shell

    def _create(self, req: WSManRequest, client_ip: str, delegated: bool) -> str:
        body = req.body
        if body is None or body.tag != f"{{{NS['rsp']}}}Shell":
            raise WSManFault.invalid_message("Create expects an rsp:Shell body.")
        proposed = body.get("ShellId")
        shell_id = new_id() if self.server_assigned_ids or not proposed else proposed.upper()
        inputs = req.body_text("rsp:InputStreams")
        outputs = req.body_text("rsp:OutputStreams")
        host = self._host_info(client_ip, delegated)
        shell: Shell
        if req.resource_uri == RESOURCE_CMD:
            shell = WinRSShell(shell_id, host, self.backend, input_streams=inputs, output_streams=outputs)
        elif req.resource_uri.startswith(RESOURCE_PSRP_PREFIX):
            creation = req.body_find("pwsh:creationXml")
            try:
                creation_xml = base64.b64decode(
                    (creation.text or "") if creation is not None else "", validate=True
                )
            except (ValueError, binascii.Error):
                raise WSManFault.invalid_message("creationXml is not base64.") from None
            shell = PSRPShell(
                shell_id,
                req.resource_uri,
                host,
                self.backend,
                creation_xml=creation_xml,
                max_envelope_size=min(req.max_envelope_size or 153600, self.max_envelope_size),
                input_streams=inputs or "stdin pr",
                output_streams=outputs or "stdout",
            )
        else:
            raise WSManFault.invalid_resource(req.resource_uri)
        with self._shells_lock:
            if self._stopping.is_set():
                shell.close()
                raise WSManFault.internal_error("The service is stopping.")
            self._shells[shell_id] = shell
        return shell.create_response()

    def _get(self, req: WSManRequest) -> str:
        if req.resource_uri == RESOURCE_CONFIG:
            return self._config_xml()
        if req.resource_uri == RESOURCE_SHELL or req.selectors.get("ShellId"):
            return self._shell(req).shell_xml()
        raise WSManFault.invalid_resource(req.resource_uri)

    def _enumerate(self, req: WSManRequest) -> str:
        with self._shells_lock:
            shells = list(self._shells.values())
        items: list[str] = []
        if req.resource_uri == RESOURCE_COMMAND:
            wanted = {
                (s.text or "").strip().upper()
                for s in req.body_findall("w:Filter/w:SelectorSet/w:Selector")
                if s.get("Name") == "ShellId"
            }
            for shell in shells:
                if not wanted or shell.shell_id.upper() in wanted:
                    for cid in shell.command_ids():
                        items.append(f"<rsp:Command>{element('rsp:CommandId', cid)}</rsp:Command>")
        elif req.resource_uri == RESOURCE_SHELL:
            items = [s.shell_xml(full=s.host.winrm3, with_ns=False) for s in shells]
        else:
            raise WSManFault.invalid_resource(req.resource_uri)
        listing = "".join(items)
        return f"<n:EnumerateResponse><w:Items>{listing}</w:Items><w:EndOfSequence/></n:EnumerateResponse>"

    def _config_xml(self) -> str:
        kb = self.max_envelope_size // 1024
        auth_basic = "true" if self.ssl else "false"
        return (
            f'<cfg:Config xmlns:cfg="{NS["cfg"]}">'
            f"<cfg:MaxEnvelopeSizekb>{kb}</cfg:MaxEnvelopeSizekb>"
            "<cfg:MaxTimeoutms>60000</cfg:MaxTimeoutms>"
            "<cfg:MaxBatchItems>32000</cfg:MaxBatchItems>"
            "<cfg:MaxProviderRequests>4294967295</cfg:MaxProviderRequests>"
            "<cfg:Service><cfg:MaxConcurrentOperationsPerUser>1500</cfg:MaxConcurrentOperationsPerUser>"
            "<cfg:AllowUnencrypted>false</cfg:AllowUnencrypted>"
            f"<cfg:Auth><cfg:Basic>{auth_basic}</cfg:Basic><cfg:Kerberos>true</cfg:Kerberos>"
            f"<cfg:Negotiate>{'true' if self.negotiate else 'false'}</cfg:Negotiate>"
            "<cfg:Certificate>false</cfg:Certificate>"
            "<cfg:CredSSP>false</cfg:CredSSP><cfg:CbtHardeningLevel>Relaxed</cfg:CbtHardeningLevel></cfg:Auth>"
            "<cfg:DefaultPorts><cfg:HTTP>5985</cfg:HTTP><cfg:HTTPS>5986</cfg:HTTPS></cfg:DefaultPorts>"
            "</cfg:Service>"
            "<cfg:Winrs><cfg:AllowRemoteShellAccess>true</cfg:AllowRemoteShellAccess>"
            "<cfg:IdleTimeout>7200000</cfg:IdleTimeout></cfg:Winrs>"
            "</cfg:Config>"
        )

    # --- helpers for the handler -----------------------------------------------------------------

    def _acceptor(self, tls_der: bytes | None) -> NegotiateAcceptor:
        assert self._store is not None
        bindings = tls_channel_bindings(tls_der) if tls_der is not None else None
        return NegotiateAcceptor(self._store, bindings, keytab=self.keytab)

    def _check_basic(self, user: str, password: str) -> bool:
        return self._store is not None and self._store.check_basic(user, password)

    def _register(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(conn)

    def _unregister(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(conn)


def _limit_tls(context: _ssl.SSLContext, versions: tuple[str, str] | None) -> None:
    """Offer only the TLS versions the node's SChannel speaks (``backend.tls_versions``, such as
    ``("TLSv1", "TLSv1.2")``, the names ``SSLSocket.version()`` answers): a 2008 R2
    listener offers TLS 1.0 and nothing newer until TLS 1.2 is enabled (docs/windows-facts.md)."""
    if versions is None:
        return
    oldest, newest = versions
    with warnings.catch_warnings():
        # TLSVersion.TLSv1 is deprecated in Python's ssl: exactly why the old nodes are a problem
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = _ssl.TLSVersion[oldest.replace(".", "_")]
        context.maximum_version = _ssl.TLSVersion[newest.replace(".", "_")]
    if newest in ("TLSv1", "TLSv1.1"):
        # OpenSSL 3 refuses TLS 1.0/1.1 above security level 0; the node's SChannel does not care
        context.set_ciphers("DEFAULT:@SECLEVEL=0")


def _close_socket(sock: socket.socket, *, reset: bool) -> None:
    """Close a connection; ``reset`` sends RST (a host that is off) instead of FIN."""
    try:
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[http.server.BaseHTTPRequestHandler],
        winrm: WinRMServer,
        ssl_context: _ssl.SSLContext | None,
    ) -> None:
        self.winrm = winrm
        self.ssl_context = ssl_context
        super().__init__(address, handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        if self.ssl_context is not None:
            # The TLS handshake runs on the connection's own thread (see _Handler.setup), so a
            # slow client never holds up accept().
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.winrm._always("down"):
            _close_socket(request, reset=True)  # like a host that is off
            return
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: NTLM authenticates the connection
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    server: _HTTPServer

    # One buffered write per response: headers and body in separate small writes meet the client's
    # delayed ACK (Nagle) and cost ~40 ms a request.
    wbufsize = -1

    def setup(self) -> None:
        try:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if isinstance(self.request, _ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()
        self.winrm = self.server.winrm
        self.winrm._register(self.request)
        self.acceptor: NegotiateAcceptor | None = None
        # After an injected "auth" fault the credentials count as wrong on this connection: every
        # later handshake fails too (pypsrp retries the handshake once on a 401, and a session's
        # clean-up requests go over the same connection).
        self.auth_revoked = False

    def finish(self) -> None:
        self.winrm._unregister(self.request)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    # --- HTTP ------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._send(405, b"")

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            return
        if self.path.split("?")[0].rstrip("/").lower() != "/wsman":
            self._send(404, b"")
            return
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        scheme_l = scheme.lower()
        if scheme_l in ("negotiate", "ntlm") and not self.winrm.negotiate:
            self._challenge()  # Auth/Negotiate=false: only the Kerberos scheme is served
            return
        if scheme_l in ("negotiate", "ntlm", "kerberos"):
            if not self._negotiate(scheme, token, body):
                return
        elif scheme_l == "basic":
            if not self.winrm.ssl or self.winrm._always("auth"):
                self._challenge()
                return
            try:
                user, password = decode_basic(token)
            except AuthError:
                self._challenge()
                return
            if not self.winrm._check_basic(user, password):
                self._challenge()
                return
        elif scheme:
            self._challenge()
            return
        elif self.acceptor is None or not self.acceptor.complete:
            self._challenge()
            return
        self._serve(body, final_token=None)

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is not None:
            try:
                return self.rfile.read(int(length))
            except (ValueError, OSError):
                self.close_connection = True
                return None
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = bytearray()
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _challenge(self, token: str | None = None, scheme: str = "Negotiate") -> None:
        """401: start (or fail) authentication."""
        self.winrm._count_auth()
        if token is None and not self.winrm.negotiate:
            offers = ["Kerberos"] if self.winrm.keytab else []
        else:
            offers = [f"{scheme} {token}" if token else "Negotiate"]
        if token is None and self.winrm.keytab and self.winrm.negotiate:
            # A domain member's WinRM offers Kerberos by name too (Auth/Kerberos=true), after
            # Negotiate; pypsrp takes Negotiate when both are there.
            offers.append("Kerberos")
        if self.winrm.ssl and token is None:
            offers.append('Basic realm="WSMAN"')
        headers = {"WWW-Authenticate": ", ".join(offers)}
        self._send(401, b"", headers)

    # --- authentication --------------------------------------------------------------------------

    def _negotiate(self, scheme: str, token: str, body: bytes) -> bool:
        """One Negotiate/NTLM leg; True when authenticated and ``body`` is a request to serve."""
        if self.winrm._always("auth") or self.auth_revoked:
            self.acceptor = None
            self.winrm._count_auth()
            self._send(401, b"", {"WWW-Authenticate": "Negotiate"})  # no token: the client gives up
            return False
        if self.acceptor is None or self.acceptor.complete:
            tls_der = None
            if isinstance(self.request, _ssl.SSLSocket) and self.winrm._cert is not None:
                tls_der = self.winrm._cert.der  # channel bindings (CBT) for NTLM inside TLS
            self.acceptor = self.winrm._acceptor(tls_der)
        try:
            out = self.acceptor.step(base64.b64decode(token.strip()))
        except (AuthError, ValueError, binascii.Error):
            self.acceptor = None
            self.winrm._count_auth()
            self._send(401, b"", {"WWW-Authenticate": "Negotiate"})
            return False
        reply = base64.b64encode(out).decode("ascii") if out else None
        if not self.acceptor.complete:
            self._challenge(reply, scheme)
            return False
        if not body:
            # The empty POST pypsrp sends to set up message encryption completes here.
            self.winrm._count_auth()
            self._send(200, b"", {"WWW-Authenticate": f"{scheme} {reply}"} if reply else None)
            return False
        self._serve(body, final_token=f"{scheme} {reply}" if reply else None)
        return False

    # --- WS-Man ----------------------------------------------------------------------------------

    def _serve(self, body: bytes, final_token: str | None) -> None:
        content_type = self.headers.get("Content-Type") or ""
        encrypted = content_type.lower().startswith(("multipart/encrypted", "multipart/x-multi-encrypted"))
        protocol = "application/HTTP-SPNEGO-session-encrypted"
        if encrypted:
            if self.acceptor is None or not self.acceptor.complete:
                self._challenge()
                return
            for param in content_type.split(";"):
                key, _, value = param.strip().partition("=")
                if key.lower() == "protocol":
                    protocol = value.strip('"')
            try:
                data = unwrap_message(self.acceptor, body)
            except AuthError:
                self._send(400, b"")
                return
        elif not self.winrm.ssl:
            # AllowUnencrypted=false: over HTTP every message must be sealed.
            self._challenge()
            return
        else:
            data = body

        index, fault = self.winrm._count_request(data)
        if fault is not None:
            kind, seconds = fault
            if kind in ("drop", "down"):
                self.close_connection = True
                _close_socket(self.request, reset=kind == "down")
                return
            if kind == "auth":
                self.acceptor = None
                self.auth_revoked = True
                self.winrm._count_auth()
                self._send(
                    401,
                    b"",
                    {"WWW-Authenticate": 'Negotiate, Basic realm="WSMAN"' if self.winrm.ssl else "Negotiate"},
                )
                return
            if kind == "slow":
                self.winrm._stopping.wait(seconds)
                if self._peer_gone():
                    self.close_connection = True
                    return
            if kind == "http500":
                req_id = ""
                try:
                    req_id = parse_request(data).message_id
                except WSManFault:
                    pass
                winrm3 = self.winrm.backend.protocol_version != "2.1"
                xml = WSManFault.internal_error().to_xml(req_id, machine=self.winrm.host, activity_id=winrm3)
                self.winrm._record_response(index, xml)
                self._reply(500, xml, encrypted, protocol, final_token)
                return
        if self.winrm.latency > 0:
            self.winrm._stopping.wait(self.winrm.latency)
        delegated = self._delegated()
        status, response = self.winrm.dispatch(data, self.client_address[0], delegated=delegated)
        self.winrm._record_response(index, response)
        self._reply(status, response, encrypted, protocol, final_token)

    def _reply(
        self, status: int, xml: bytes, encrypted: bool, protocol: str, final_token: str | None
    ) -> None:
        headers: dict[str, str] = {}
        if final_token:
            headers["WWW-Authenticate"] = final_token
        if not xml:
            self._send(status, b"", headers)
            return
        if encrypted:
            assert self.acceptor is not None
            content_type, payload = wrap_message(self.acceptor, xml, protocol)
            headers["Content-Type"] = content_type
        else:
            headers["Content-Type"] = "application/soap+xml;charset=UTF-8"
            payload = xml
        self._send(status, payload, headers)

    def _delegated(self) -> bool:
        """The connection's logon can reach the shares: a delegated ticket that obtained a ticket
        for each file server (asked once per handshake)."""
        acceptor = self.acceptor
        if acceptor is None or not acceptor.delegated:
            return False
        if getattr(self, "_hop_for", None) is not acceptor:
            self._hop_for = acceptor
            self._hop_ok = acceptor.second_hop(self.winrm.second_hop) if self.winrm.second_hop else True
        return bool(self._hop_ok)

    def _peer_gone(self) -> bool:
        """After a ``slow`` wait: did the client give up (its side closed the connection)?"""
        try:
            readable, _, _ = select.select([self.request], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)  # the client sends nothing while it waits, so readable means EOF
