"""From a plan's connection settings to a pypsrp ``WSMan`` object, with the security checks.

* Basic authentication over plain HTTP (the password in clear on the wire), or any setting that
  leaves messages unencrypted over HTTP, is refused unless ``allow_insecure: true`` (then it is
  allowed with a warning in the log).
* Over HTTP, NTLM / Negotiate / Kerberos / CredSSP always encrypt the messages (``encryption=
  "always"``); over HTTPS TLS protects them.
* Certificate validation is on by default; ``cert_validation`` may name a CA bundle (refused when
  it does not exist); turning it off logs a warning, and is refused for Basic and CredSSP (which
  give the node the password itself) unless ``allow_insecure: true``.
* ``read_timeout`` must exceed ``operation_timeout`` (WinRM answers a Receive only after the
  operation timeout); a node override that breaks this is refused.
* The password is resolved (``Connection.resolve_password``) only here, at connect time, and goes
  straight to pypsrp; it is never stored on a session, logged, or put into a message.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from clpbackup.errors import PlanError
from clpbackup.transport._logging import log

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import SecretStr
    from pypsrp.wsman import WSMan

    from clpbackup.plan import Connection

__all__ = ["check_connection", "credentials_delegated", "open_wsman", "wsman_settings"]

#: Authentication methods that can encrypt WinRM messages themselves (no TLS needed).
ENCRYPTING_AUTH = frozenset({"negotiate", "ntlm", "kerberos", "credssp"})
#: Authentication methods that hand the node the password itself (Basic in the header, CredSSP by
#: delegation), so the node must be proven to be the node first: by a validated certificate.
PASSWORD_TO_PEER_AUTH = frozenset({"basic", "credssp"})


def _refuse(node: str, message: str, field: str, hint: str) -> PlanError:
    return PlanError(message, field=field, hint=hint).with_node(node)


def check_connection(node: str, conn: Connection) -> str:
    """Check the settings of ``node``'s connection; return pypsrp's ``encryption`` value.

    Raises :class:`PlanError` (naming the node and the field) for an insecure or inconsistent
    setting.
    """
    if conn.read_timeout <= conn.operation_timeout:
        raise _refuse(
            node,
            f"read_timeout ({conn.read_timeout}) must be greater than "
            f"operation_timeout ({conn.operation_timeout})",
            "connection.read_timeout",
            "WinRM answers a Receive only after operation_timeout; give read_timeout a few seconds more",
        )
    if conn.auth == "certificate":
        if not conn.ssl:
            raise _refuse(
                node,
                "certificate authentication works only over HTTPS",
                "connection.ssl",
                "set ssl: true (WinRM maps client certificates only on an HTTPS listener)",
            )
        if not conn.certificate_pem or not conn.certificate_key_pem:
            raise _refuse(
                node,
                "certificate authentication needs certificate_pem and certificate_key_pem",
                "connection.certificate_pem",
                "give the paths of the client certificate and its key",
            )
    if conn.auth == "basic" and conn.username is None:
        raise _refuse(
            node,
            "Basic authentication needs a username",
            "connection.username",
            "set connection.username (a local account of the node)",
        )
    if conn.ssl:
        if isinstance(conn.cert_validation, str) and not os.path.exists(conn.cert_validation):
            # requests would fail later with an OSError; say which setting and send nothing
            raise _refuse(
                node,
                f"the CA bundle {conn.cert_validation!r} (connection.cert_validation) does not exist "
                "on this machine",
                "connection.cert_validation",
                "give the path of the PEM file (or folder) of the CA that signed the node's "
                "certificate, or true to validate against the system's CAs",
            )
        if conn.cert_validation is False and conn.auth in PASSWORD_TO_PEER_AUTH and not conn.allow_insecure:
            # Whoever answers on the node's address (a fake node with a self-signed certificate, a
            # man in the middle) would receive the password: refuse before a byte is sent.
            raise _refuse(
                node,
                f"{conn.auth} authentication gives the node the password itself, and with "
                "cert_validation: false nothing proves the peer is the node; clpbackup refuses it",
                "connection.cert_validation",
                "give the CA bundle that signed the node's certificate (cert_validation: /path/ca.pem), "
                "or use auth: negotiate / kerberos / ntlm; set allow_insecure: true only on an isolated "
                "test network",
            )
        if conn.cert_validation is False:
            log.warning(
                "node %s: TLS certificate validation is OFF (connection.cert_validation: false)", node
            )
        return "auto"
    if conn.auth in ENCRYPTING_AUTH:
        return "always"
    # Basic over HTTP: neither TLS nor message encryption.
    if not conn.allow_insecure:
        raise _refuse(
            node,
            f"{conn.auth} authentication over plain HTTP would send the password and every message "
            "unencrypted; clpbackup refuses it",
            "connection.auth",
            "use ssl: true (an HTTPS listener on 5986), or auth: ntlm / negotiate (encrypted over HTTP); "
            "set allow_insecure: true only on an isolated test network",
        )
    log.warning(
        "node %s: %s authentication over plain HTTP without message encryption (allow_insecure: true); "
        "the password and all data cross the network in clear",
        node,
        conn.auth,
    )
    return "never"


def wsman_settings(node: str, host: str, conn: Connection) -> dict[str, Any]:
    """The keyword arguments of ``pypsrp.wsman.WSMan`` for the node, without the password."""
    encryption = check_connection(node, conn)
    settings: dict[str, Any] = {
        "server": host,
        "port": conn.effective_port,
        "ssl": conn.ssl,
        "path": conn.path or "wsman",
        "auth": conn.auth,
        "username": conn.username,
        "cert_validation": conn.cert_validation,
        "no_proxy": conn.no_proxy,
        "operation_timeout": conn.operation_timeout,
        "read_timeout": conn.read_timeout,
        "connection_timeout": conn.connection_timeout,
        "encryption": encryption,
        # clpbackup does its own retries (transport.retry): no hidden urllib3 retries below it.
        "reconnection_retries": 0,
    }
    if conn.locale:
        settings["locale"] = conn.locale
    if conn.auth == "certificate":
        settings["certificate_pem"] = conn.certificate_pem
        settings["certificate_key_pem"] = conn.certificate_key_pem
    if conn.auth in ("kerberos", "negotiate"):
        if conn.spn_host:
            # The service name is built from this name, not from nodes[].host (an address or an
            # alias the domain does not know): HOST/<spn_host>.
            settings["negotiate_hostname_override"] = conn.spn_host
        if conn.delegate:
            settings["negotiate_delegate"] = True
    return settings


def credentials_delegated(wsman: WSMan) -> bool:
    """True when the session's Kerberos handshake delegated the user's ticket to the node.

    GSSAPI reports GSS_C_DELEG_FLAG on the established context only when a forwarded ticket went
    with the authenticator (MIT krb5 forwards it when the ticket is forwardable and, with
    ``enforce_ok_as_delegate``, the node's ticket carries OK-AS-DELEGATE); NTLM never delegates.
    """
    import spnego

    session = getattr(getattr(wsman, "transport", None), "session", None)
    contexts = getattr(getattr(session, "auth", None), "contexts", None) or {}
    for context in contexts.values():
        try:
            if context.complete and context.context_attr & spnego.ContextReq.delegate:
                return True
        except Exception:  # noqa: S112 - a context that cannot say has not delegated
            continue
    return False


def open_wsman(node: str, host: str, conn: Connection) -> tuple[WSMan, SecretStr | None]:
    """A new ``WSMan`` for the node, and the password it was given (kept only to redact errors).

    The password is resolved now; pypsrp holds it for the life of the WSMan object.
    """
    from clpbackup.transport import psrp  # WSMan is looked up there so tests can patch one name

    settings = wsman_settings(node, host, conn)
    secret = conn.resolve_password(node) if conn.auth != "certificate" else None
    password = secret.get_secret_value() if secret is not None else None
    return psrp.WSMan(password=password, **settings), secret
