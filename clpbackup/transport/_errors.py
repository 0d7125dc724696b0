"""Map what pypsrp, requests and spnego raise to clpbackup's typed errors.

Every error names the node and says what to do next. Whether an error may be retried (on reads
only, see :mod:`clpbackup.transport.retry`) is recorded on the error itself (:func:`is_retryable`),
and so is whether the runspace pool / shell behind it is unusable (:func:`pool_is_broken`).

No message carries a secret: a text that came from the wire is passed through :func:`redact`
with the connection's password before it goes into an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from pypsrp.exceptions import (
    AuthenticationError,
    InvalidPipelineStateError,
    InvalidRunspacePoolStateError,
    WinRMError,
    WinRMTransportError,
    WSManFaultError,
)

from clpbackup.errors import (
    AuthenticationFailed,
    ClpBackupError,
    ConnectionFailed,
    ParseError,
    RemoteCommandFailed,
)

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import SecretStr

__all__ = [
    "AUTH_HINT",
    "CONNECT_HINT",
    "WSMAN_OPERATION_TIMEOUT",
    "WSMAN_SHELL_NOT_FOUND",
    "codepage_error",
    "is_network_error",
    "is_retryable",
    "map_error",
    "mark",
    "pool_is_broken",
    "redact",
]

#: WS-Man fault code of an OperationTimeout (0x80338029): no answer within the operation timeout.
WSMAN_OPERATION_TIMEOUT = 2150858793
#: WS-Man fault code when the shell (runspace pool) no longer exists on the node (0x8033805B).
WSMAN_SHELL_NOT_FOUND = 2150858843
#: Win32 "access denied" as a WS-Man fault code: the account is not allowed to use WinRM.
_ACCESS_DENIED = 5
#: ERROR_INTERNAL_ERROR: the WS-Man fault a WinRM service answers (with HTTP 500) when it fails
#: internally; transient like any other HTTP 5xx.
WSMAN_INTERNAL_ERROR = 1359

CONNECT_HINT = (
    "make sure WinRM listens on the node and is reachable: run 'winrm quickconfig' on Windows Server "
    "2008/2008 R2/2012; install WMF 2.0 (WinRM 2.0) on 2003; with ssl: true the node needs an HTTPS "
    "listener; the node's firewall and any firewall between must allow TCP 5985 (HTTP) / 5986 (HTTPS); "
    "check connection.port, and connection.no_proxy when an HTTP proxy is set in the environment"
)
AUTH_HINT = (
    "check connection.username (DOMAIN\\user, user@domain, or NODE\\user for a local account), the "
    "password source (connection.password) and connection.auth; the account must be an "
    "administrator on the node; Basic works only with a local account, over HTTPS, or with "
    "AllowUnencrypted=true on the node's WinRM service"
)
_TLS_HINT = (
    "the node's certificate did not validate: give the CA bundle that signed it in "
    "connection.cert_validation (a path), or fix the certificate's name"
)
_TLS_VERSION_HINT = (
    "the node and this machine share no TLS version: Windows Server 2003 speaks TLS 1.0 at most, "
    "2008 and 2008 R2 do until TLS 1.2 is enabled, and this client requires TLS 1.2; use ssl: false "
    "with negotiate, ntlm or kerberos (every message is encrypted), or enable TLS 1.2 on the node "
    "(docs/security.md)"
)
# OpenSSL's words for "no common protocol version" (the node offers an older TLS than allowed).
_TLS_VERSION_MARKERS = (
    "PROTOCOL_VERSION",
    "UNSUPPORTED_PROTOCOL",
    "NO_PROTOCOLS_AVAILABLE",
    "VERSION_TOO_LOW",
)
_PATH_HINT = "check connection.path (WinRM's default is 'wsman') and connection.port"


def redact(text: str, secret: SecretStr | None) -> str:
    """``text`` with every occurrence of the password replaced by ``********``."""
    if secret is None:
        return text
    value = secret.get_secret_value()
    if not value:
        return text
    return text.replace(value, "********")


def mark(
    err: ClpBackupError, *, retryable: bool = False, broken: bool = False, network: bool = False
) -> ClpBackupError:
    """Record on ``err`` whether a read may be retried, whether its pool/shell is unusable, and
    whether the node could not be reached at all (then closing the pool is not even attempted)."""
    err.retryable = retryable  # type: ignore[attr-defined]
    err.pool_broken = broken  # type: ignore[attr-defined]
    err.network_error = network  # type: ignore[attr-defined]
    return err


def is_network_error(exc: BaseException) -> bool:
    """True when ``exc`` means the node was not reachable (no point sending it anything else)."""
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return True
    return bool(getattr(exc, "network_error", False))


def is_retryable(exc: BaseException) -> bool:
    """True when a *read* that raised ``exc`` may be tried again (bounded, with backoff).

    Retryable: connection failures and timeouts at the HTTP level, HTTP 5xx without a WS-Man
    fault, WS-Man InternalError (HTTP 500), OperationTimeout and shell-not-found. Not retryable:
    authentication, TLS validation, parse errors, pipeline errors, deadlines.
    """
    flag = getattr(exc, "retryable", None)
    if isinstance(flag, bool):
        return flag
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return True
    if isinstance(exc, WSManFaultError):
        return _fault_code(exc) in (
            WSMAN_OPERATION_TIMEOUT,
            WSMAN_SHELL_NOT_FOUND,
            WSMAN_INTERNAL_ERROR,
        ) or _shell_gone(exc)
    if isinstance(exc, WinRMTransportError):
        return isinstance(exc.code, int) and exc.code >= 500
    return False


def pool_is_broken(exc: BaseException) -> bool:
    """True when the runspace pool or shell behind ``exc`` must not be used again."""
    flag = getattr(exc, "pool_broken", None)
    return bool(flag)


def _fault_code(exc: WSManFaultError) -> int | None:
    try:
        return int(exc.code)
    except (TypeError, ValueError):
        return None


def _shell_gone(exc: WSManFaultError) -> bool:
    reason = str(exc.reason or "").lower()
    return "shell was not found" in reason or "shell no longer exists" in reason


def codepage_error(node: str, tool: str, data: bytes, codepage: int) -> ParseError:
    """A :class:`ParseError` for output that is not valid text in the plan's code page."""
    return ParseError(
        tool,
        data.decode(f"cp{codepage}", errors="replace"),
        f"the output is not valid code page {codepage} text; connection.codepage must be the node's OEM "
        "code page (437 for en-US, 932 for ja-JP Windows)",
        node=node,
        hint="set connection.codepage in the plan to the node's OEM code page (chcp on the node shows it)",
    )


def map_error(
    exc: BaseException, *, node: str, phase: str, secret: SecretStr | None = None
) -> ClpBackupError:
    """The typed error for ``exc`` raised while ``phase`` (``open``, ``inspect``, ``apply``,
    ``close``, ``command``) ran on ``node``. A :class:`ClpBackupError` is returned unchanged."""
    if isinstance(exc, ClpBackupError):
        return exc
    detail = redact(_describe(exc), secret)
    where = f"{phase} on the node"
    if isinstance(exc, requests.exceptions.SSLError):
        hint = _TLS_VERSION_HINT if any(m in detail.upper() for m in _TLS_VERSION_MARKERS) else _TLS_HINT
        return mark(
            ConnectionFailed(f"TLS failed during {where}: {detail}", node=node, hint=hint), network=True
        )
    if isinstance(exc, (requests.exceptions.Timeout, requests.exceptions.ConnectionError)):
        message, hint = _unreachable(exc, where, secret)
        return mark(
            ConnectionFailed(message, node=node, hint=hint), retryable=True, broken=True, network=True
        )
    if isinstance(exc, AuthenticationError):
        return mark(
            AuthenticationFailed(f"the node refused the credentials: {detail}", node=node, hint=AUTH_HINT)
        )
    if _is_spnego_error(exc) or _is_krb5_error(exc):
        kerberos = kerberos_failure(detail)
        if kerberos is not None:
            what, hint = kerberos
            message = f"Kerberos: {what} ({_gss_minor(detail)})"
            return mark(AuthenticationFailed(message, node=node, hint=hint))
        return mark(
            AuthenticationFailed(f"the authentication exchange failed: {detail}", node=node, hint=AUTH_HINT),
        )
    if isinstance(exc, WSManFaultError):
        return _map_fault(exc, node=node, phase=phase, detail=detail)
    if isinstance(exc, WinRMTransportError):
        code = exc.code if isinstance(exc.code, int) else 0
        if code == 401:
            return mark(AuthenticationFailed(f"HTTP 401 during {where}", node=node, hint=AUTH_HINT))
        if code >= 500:
            return mark(
                ConnectionFailed(
                    f"the WinRM service answered HTTP {code} during {where}: {detail}",
                    node=node,
                    hint="the node's WinRM service failed; clpbackup retries reads, try again later",
                ),
                retryable=True,
                broken=True,
            )
        hint = _PATH_HINT if code in (404, 405) else CONNECT_HINT
        if code == 413:
            hint = (
                "the request was larger than the node's MaxEnvelopeSize: raise it on the node "
                "(winrm set winrm/config @{MaxEnvelopeSizekb=\"500\"}) or write smaller files"
            )
        return mark(
            ConnectionFailed(f"HTTP {code} during {where}: {detail}", node=node, hint=hint), broken=True
        )
    if isinstance(exc, (InvalidRunspacePoolStateError, InvalidPipelineStateError)):
        return mark(
            RemoteCommandFailed(
                f"the PowerShell runspace on the node is in the wrong state during {phase}: {detail}",
                node=node,
                hint="the session is reopened on the next call",
            ),
            broken=True,
        )
    if isinstance(exc, UnicodeError):
        return mark(ParseError(phase, "", f"text could not be decoded: {detail}", node=node))
    if isinstance(exc, WinRMError):
        cls = ConnectionFailed if phase == "open" else RemoteCommandFailed
        return mark(cls(f"WinRM error during {where}: {detail}", node=node), broken=True)
    return mark(
        ConnectionFailed(f"unexpected {type(exc).__name__} during {where}: {detail}", node=node),
        broken=True,
    )


def _map_fault(exc: WSManFaultError, *, node: str, phase: str, detail: str) -> ClpBackupError:
    code = _fault_code(exc)
    where = f"{phase} on the node"
    if code == WSMAN_OPERATION_TIMEOUT:
        return mark(
            ConnectionFailed(
                f"WS-Man operation timeout during {where}",
                node=node,
                hint="the node answered too slowly; raise connection.operation_timeout if it persists",
            ),
            retryable=True,
            broken=phase == "open",
        )
    if code == WSMAN_SHELL_NOT_FOUND or _shell_gone(exc):
        return mark(
            ConnectionFailed(
                f"the PowerShell session no longer exists on the node ({phase})",
                node=node,
                hint="WinRM closed it (idle timeout or service restart); clpbackup opens a new one",
            ),
            retryable=True,
            broken=True,
        )
    if code == WSMAN_INTERNAL_ERROR:
        return mark(
            ConnectionFailed(
                f"the WinRM service failed internally (HTTP 500) during {where}: {detail}",
                node=node,
                hint="the node's WinRM service failed; clpbackup retries reads, try again later",
            ),
            retryable=True,
            broken=True,
        )
    if code == _ACCESS_DENIED:
        return mark(
            AuthenticationFailed(f"WinRM denied access during {where}: {detail}", node=node, hint=AUTH_HINT)
        )
    if phase == "open":
        return mark(
            ConnectionFailed(
                f"WinRM refused to open a PowerShell session: {detail}", node=node, hint=CONNECT_HINT
            ),
            broken=True,
        )
    return mark(RemoteCommandFailed(f"WinRM fault during {where}: {detail}", node=node), broken=True)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (requests → urllib3 MaxRetryError.reason → socket errors)."""
    out: list[BaseException] = []
    todo: list[object] = [exc]
    while todo:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is x for x in out) or len(out) > 12:
            continue
        out.append(e)
        todo += [getattr(e, "reason", None), e.__cause__, e.__context__, *getattr(e, "args", ())]
    return out


def _endpoint(exc: BaseException) -> tuple[str, str, int | None]:
    """(scheme, host, port) the request went to, from the request requests attached to ``exc``."""
    from urllib.parse import urlsplit

    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if isinstance(url, str):
        parts = urlsplit(url)
        port = parts.port or (5986 if parts.scheme == "https" else 5985)
        return parts.scheme or "http", parts.hostname or "?", port
    for e in _chain(exc):
        pool = getattr(e, "pool", None)
        if pool is not None and getattr(pool, "host", None):
            return str(getattr(pool, "scheme", "http")), str(pool.host), getattr(pool, "port", None)
    return "http", "?", None


def _unreachable(exc: BaseException, where: str, secret: SecretStr | None) -> tuple[str, str]:
    """Message and hint for a node that could not be reached: which of DNS, a refused port or a
    timeout, naming the actual scheme and port, with the innermost cause said once."""
    import socket

    scheme, host, port = _endpoint(exc)
    url = f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"
    at = f" at {url}" if host != "?" else ""
    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    root = chain[-1]
    for e in chain:
        if isinstance(e, OSError) and e.errno is not None:
            root = e
            break
    cause = redact(str(root).split("): ")[-1].strip(" ')\"") or type(root).__name__, secret)
    listener = "an HTTPS listener" if scheme == "https" else "an HTTP listener"
    check_port = (
        f"check nodes[].host / connection.port (here {port}, {scheme.upper()}); WinRM's defaults are "
        "5985 (HTTP) and 5986 (HTTPS)"
    )
    if "ProxyError" in names:
        return (
            f"cannot reach WinRM{at} through the HTTP proxy during {where}: {cause}",
            "the request went to the proxy of HTTP_PROXY/HTTPS_PROXY: keep connection.no_proxy: true "
            "(the default) or list the nodes in NO_PROXY",
        )
    if "NameResolutionError" in names or any(isinstance(e, socket.gaierror) for e in chain):
        return (
            f"the name {host} does not resolve (DNS) during {where}: {cause}",
            f"check nodes[].host ({host}): use a name this machine's DNS knows, or the node's IP address",
        )
    if isinstance(exc, requests.exceptions.Timeout) or any(isinstance(e, TimeoutError) for e in chain) or (
        "ConnectTimeoutError" in names or "ReadTimeoutError" in names
    ):
        return (
            f"no answer{' from ' + url if at else ''} in time during {where}: {cause}",
            f"a firewall on the way may drop TCP {port} silently, or the host is down; {check_port}; "
            "raise connection.read_timeout for a slow node",
        )
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return (
            f"nothing accepts connections{at} (connection refused) during {where}",
            f"the node answered but no WinRM listener is on TCP {port}: run 'winrm quickconfig' on "
            f"2008/2008 R2/2012 (WMF 2.0 on 2003) for {listener}, or a firewall rejects the port; "
            + check_port,
        )
    return (f"cannot connect to WinRM{at} during {where}: {cause}", f"{CONNECT_HINT}; {check_port}")


_KINIT = (
    "kinit <user>@<REALM> (the realm in capitals; with connection.username set, that principal), "
    "or point KRB5CCNAME at your ticket cache, or KRB5_CLIENT_KTNAME at a keytab of the account"
)
#: GSSAPI's (MIT krb5's) words for each Kerberos failure, in the order they are tried, with what
#: clpbackup says about it and the fix (docs/security.md, "What fails and how it reads").
_KERBEROS_FAILURES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        ("requires the python gssapi library", "gssapi library", "kerberos is not available"),
        "this machine has no Kerberos library for Python",
        "pip install 'clpbackup[kerberos]' (gssapi and krb5; they build against libkrb5-dev / "
        "krb5-devel), or use connection.auth: ntlm",
    ),
    (
        ("can't find client principal",),
        "your ticket cache holds no ticket for the principal the plan names (connection.username)",
        f"kinit as that principal, or remove connection.username to use the cache's own principal "
        f"(klist shows it); {_KINIT}",
    ),
    (
        ("no kerberos credentials available", "no credentials cache found", "credentials cache file",
         "no credentials were supplied"),
        "no Kerberos ticket on this machine (nothing in the credential cache)",
        _KINIT,
    ),
    (
        ("ticket expired", "credentials have expired", "credential has expired", "ticket has expired"),
        "your Kerberos ticket has expired",
        "get a new one: kinit again (kinit -R renews a renewable ticket; klist shows the expiry)",
    ),
    (
        ("not found in kerberos database", "server not found"),
        "the domain knows no service principal (SPN) by the name this node was asked for",
        "connect by the node's DNS name in the domain (nodes[].host), or give it as "
        "nodes[].connection.spn_host when host is an IP address or an alias; on Windows, "
        "'setspn -L <NODE>' lists the computer's SPNs (HOST/<fqdn> is there after the domain join)",
    ),
    (
        ("cannot contact any kdc", "cannot find kdc", "unable to reach any kdc",
         "cannot resolve network address for kdc"),
        "no KDC (domain controller) of the realm answered",
        "check the realm's kdc = lines in krb5.conf (/etc/krb5.conf, or KRB5_CONFIG) and that TCP/UDP 88 "
        "to the domain controllers is open from this machine",
    ),
    (
        ("clock skew too great",),
        "this machine's clock and the domain's differ by more than the allowed skew (5 minutes)",
        "synchronize this machine's clock with the domain (NTP against a domain controller)",
    ),
    (
        ("cannot determine realm", "cannot find realm"),
        "the node's name maps to no Kerberos realm",
        "add the node's DNS domain to [domain_realm] in krb5.conf, or set default_realm",
    ),
    (
        ("preauthentication failed", "decrypt integrity check failed", "password incorrect"),
        "the KDC refused the password of connection.username (pyspnego asked for a ticket with it)",
        "check the password source (connection.password) and connection.username (user@REALM); "
        "'kinit <user>@<REALM>' tries the same password by hand",
    ),
    (
        ("client not found in kerberos database", "client's entry in database has expired"),
        "the domain knows no such user (connection.username)",
        "give the account as user@REALM, the realm in capitals (klist shows the form after a kinit)",
    ),
)


def kerberos_failure(detail: str) -> tuple[str, str] | None:
    """``(what failed, the fix)`` for a GSSAPI failure text, or None when it is not one we know."""
    low = detail.lower()
    for needles, what, hint in _KERBEROS_FAILURES:
        if any(n in low for n in needles):
            return what, hint
    return None


def _gss_minor(detail: str) -> str:
    """GSSAPI's own minor message (``Minor (N): <text>, Context: ...`` → ``<text>``), else the text."""
    import re

    m = re.search(r"Minor \(\d+\): (.*?)(?:, Context: |$)", detail)
    return (m.group(1) if m else detail).strip()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # requests wraps urllib3's long reprs; keep the message readable.
    return text if len(text) <= 500 else text[:497] + "..."


def _is_krb5_error(exc: BaseException) -> bool:
    """The krb5 package's error: pyspnego's own kinit with the plan's password raises it unwrapped."""
    return type(exc).__name__ == "Krb5Error" and type(exc).__module__.split(".")[0] == "krb5"


def _is_spnego_error(exc: BaseException) -> bool:
    try:
        from spnego.exceptions import SpnegoError
    except ImportError:  # pragma: no cover - pyspnego is a dependency of pypsrp
        return False
    return isinstance(exc, SpnegoError)
