"""Authentication for the simulator: an NTLM/Negotiate acceptor with WinRM message encryption, Basic.

NTLM (raw, or wrapped in SPNEGO under the ``Negotiate`` scheme, the way pypsrp sends it) is
accepted with pyspnego's ``spnego.server``. pyspnego's NTLM acceptor looks the user up in the file
named by the environment variable ``NTLM_USER_FILE``, read when the client's AUTHENTICATE message
arrives. Each server keeps its own credential file (NT/LM hashes in the smbpasswd layout, never the
clear password) in memory — an anonymous ``memfd`` named through ``/proc/self/fd/N``, so no folder
another process could read or clean holds it, and nothing is left when the process ends however it
ends; where there is no ``memfd`` (not Linux) in a private 0700 folder removed with the server — and
points the variable at it only while its acceptor steps, under a process-wide lock; so several
servers with different credentials — even the same user name with different passwords — live in
one process, and a caller's own ``NTLM_USER_FILE`` is restored after
(when there was none, it is left empty rather than removed: see ``NegotiateAcceptor.step``).

Over plain HTTP every message is then encrypted with the NTLM session (``multipart/encrypted``,
``application/HTTP-SPNEGO-session-encrypted``, the ``--Encrypted Boundary`` framing of MS-WSMV
2.2.9.1); over HTTPS messages travel in clear inside TLS and Basic is also accepted.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import shutil
import struct
import tempfile
import threading
from collections.abc import Iterable
from typing import Any

import spnego
from spnego.channel_bindings import GssChannelBindings

__all__ = [
    "AuthError",
    "CredentialStore",
    "NegotiateAcceptor",
    "decode_basic",
    "unwrap_message",
    "wrap_message",
]

BOUNDARY = "Encrypted Boundary"
SPNEGO_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"

# pyspnego reads NTLM_USER_FILE from the process environment: stepping an acceptor with *our*
# file in place must not interleave with another server's step.
_ENV_LOCK = threading.Lock()


class AuthError(Exception):
    """Authentication failed (wrong user or password, broken token); answered with HTTP 401."""


def _ntlm_hashes(password: str) -> tuple[str, str]:
    # Private helpers of pyspnego, the same ones its acceptor uses to check the response: the
    # hashes we write are by construction the ones it expects.
    from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1

    return lmowfv1(password).hex().upper(), ntowfv1(password).hex().upper()


def _name_forms(username: str) -> list[str]:
    """The spellings of one account: ``DOM\\user`` is also ``user@DOM`` and vice versa."""
    forms = [username]
    if "\\" in username:
        domain, user = username.split("\\", 1)
        if domain and domain != ".":
            forms.append(f"{user}@{domain}")
        else:
            forms.append(user)
    elif "@" in username:
        user, domain = username.split("@", 1)
        forms.append(f"{domain}\\{user}")
    return forms


class CredentialStore:
    """One server's account: the NTLM credential file and the Basic check.

    The password is kept only as its hashes in the file and as an HMAC key for the constant-time
    Basic comparison; it never appears in a repr.
    """

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self._forms = {f.lower() for f in _name_forms(username)}
        self._basic_key = os.urandom(32)
        self._basic_digest = hmac.new(self._basic_key, password.encode("utf-8"), "sha256").digest()
        lm, nt = _ntlm_hashes(password)
        lines = [f"{form}:1000:{lm}:{nt}:[U]:LCT-0\n" for form in _name_forms(username)]
        self._fd, self.path, self._folder = _private_file("".join(lines).encode("utf-8"))

    def __repr__(self) -> str:
        return f"CredentialStore(username={self.username!r})"

    def check_basic(self, username: str, password: str) -> bool:
        """True when ``username``/``password`` are this account's (name case-insensitive)."""
        digest = hmac.new(self._basic_key, password.encode("utf-8"), "sha256").digest()
        return username.lower() in self._forms and hmac.compare_digest(digest, self._basic_digest)

    def remove(self) -> None:
        """Drop the credential file (close the memory file, or delete the private folder)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
        if self._folder is not None:
            folder, self._folder = self._folder, None
            shutil.rmtree(folder, ignore_errors=True)


def _private_file(data: bytes) -> tuple[int | None, str, str | None]:
    """``(fd, path, folder)`` of a file holding ``data`` that only this process uses.

    pyspnego opens a *path* (``NTLM_USER_FILE``); ``/proc/self/fd/N`` of a ``memfd`` is one that
    lives in memory only. Without ``memfd_create`` the file goes to a fresh 0700 folder.
    """
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        try:
            fd = memfd_create("clpbackup-sim-ntlm", getattr(os, "MFD_CLOEXEC", 0))
        except OSError:
            fd = None
        if fd is not None:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            path = f"/proc/self/fd/{fd}"
            if os.path.isfile(path):
                return fd, path, None
            os.close(fd)
    folder = tempfile.mkdtemp(prefix="clpbackup-sim-ntlm-")  # mode 0700
    path = os.path.join(folder, "users.txt")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(data)
    return None, path, folder


def decode_basic(token: str) -> tuple[str, str]:
    """``(user, password)`` of a Basic credential; raises :class:`AuthError` when malformed."""
    try:
        raw = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise AuthError("malformed Basic credential") from None
    user, sep, password = raw.partition(":")
    if not sep:
        raise AuthError("malformed Basic credential")
    return user, password


def tls_channel_bindings(cert_der: bytes) -> GssChannelBindings:
    """RFC 5929 ``tls-server-end-point`` bindings of our certificate (SHA-256 signed, so SHA-256)."""
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(hashes.SHA256())
    digest.update(cert_der)
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest.finalize())


class NegotiateAcceptor:
    """The server side of one connection's handshake (NTLM, Kerberos, either inside SPNEGO), then
    its wrapping.

    ``keytab``: the node's service keys (what joining a domain gives a computer account); with it,
    Kerberos is accepted too, through the GSSAPI acceptor of the ``gssapi`` package (MIT krb5), for
    any service name whose key is in the file (``host/<name>``, ``HTTP/<name>``). Without it (or
    without ``gssapi``) the node speaks NTLM only, as a computer outside a domain does.
    """

    def __init__(
        self,
        store: CredentialStore,
        channel_bindings: GssChannelBindings | None = None,
        keytab: str | None = None,
    ) -> None:
        self._store = store
        self._keytab = keytab
        self._ctx: Any = spnego.server(
            protocol="negotiate",
            channel_bindings=channel_bindings,
            options=spnego.NegotiateOptions.wrapping_winrm,
        )

    @property
    def complete(self) -> bool:
        """The handshake finished successfully."""
        return bool(self._ctx.complete)

    @property
    def client_principal(self) -> str | None:
        """``DOMAIN\\user`` as the client authenticated."""
        return self._ctx.client_principal if self.complete else None

    def step(self, token: bytes) -> bytes | None:
        """Feed the client's token; answer ours (None when there is nothing to send back)."""
        with _ENV_LOCK:
            previous = os.environ.get("NTLM_USER_FILE")
            previous_kt = os.environ.get("KRB5_KTNAME")
            os.environ["NTLM_USER_FILE"] = self._store.path
            # MIT krb5 reads KRB5_KTNAME when the acceptor's credential is acquired (this step):
            # each node accepts with its own keys only. A node without keys gets a name that
            # holds none, never the machine's default keytab.
            os.environ["KRB5_KTNAME"] = f"FILE:{self._keytab}" if self._keytab else "FILE:/nonexistent/keytab"
            try:
                out: bytes | None = self._ctx.step(token)
            except Exception as e:  # spnego raises SpnegoError subclasses, and ValueError on junk
                raise AuthError(f"authentication failed: {type(e).__name__}: {_reason(e)}") from None
            finally:
                # Never delete the variable, only change its value (empty = no file for pyspnego):
                # other threads read the environment without our lock (requests looks for proxies
                # on every request), and os.environ raises KeyError for a key that goes away
                # between its listing of the keys and reading the value.
                os.environ["NTLM_USER_FILE"] = previous or ""
                os.environ["KRB5_KTNAME"] = previous_kt or ""
        return out

    @property
    def protocol(self) -> str | None:
        """``kerberos`` or ``ntlm`` once the handshake chose one."""
        try:
            return str(self._ctx.negotiated_protocol) if self.complete else None
        except Exception:  # pyspnego raises when no mechanism was chosen yet
            return None

    @property
    def delegated(self) -> bool:
        """The client delegated its credentials (Kerberos: a forwarded ticket-granting ticket came
        with the authenticator, GSS_C_DELEG_FLAG), so the session can reach a third machine."""
        if not self.complete:
            return False
        return bool(self._ctx.context_attr & spnego.ContextReq.delegate)

    def second_hop(self, services: Iterable[str]) -> bool:
        """Use the delegated ticket as the node would for a share: ask the KDC for a ticket to each
        ``service`` (``cifs@<file server>``, GSSAPI's host-based form). True when every one was
        issued; False without delegation, or when the KDC refuses one (no such principal, the KDC
        unreachable, the ticket expired)."""
        if not self.delegated:
            return False
        creds = _delegated_credentials(self._ctx)
        if creds is None:
            return False
        import gssapi

        krb5 = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2")
        for service in services:
            try:
                name = gssapi.Name(service, gssapi.NameType.hostbased_service)
                gssapi.SecurityContext(name=name, creds=creds, usage="initiate", mech=krb5).step()
            except Exception:  # GSSError: the KDC gave no ticket for the share's server
                return False
        return True

    # message encryption (MS-WSMV 2.2.9.1) --------------------------------------------------------

    def wrap(self, data: bytes) -> tuple[bytes, bytes]:
        """``(header, encrypted)`` of one message."""
        res = self._ctx.wrap_winrm(data)
        return bytes(res.header), bytes(res.data)

    def unwrap(self, header: bytes, data: bytes) -> bytes:
        """Decrypt one message; raises :class:`AuthError` when it does not verify."""
        try:
            return bytes(self._ctx.unwrap_winrm(header, data))
        except Exception as e:
            raise AuthError(f"message decryption failed: {type(e).__name__}") from None


_PART = re.compile(rb"--\s*" + re.escape(BOUNDARY.encode()) + rb"\r\n")


def wrap_message(
    acceptor: NegotiateAcceptor, message: bytes, protocol: str = SPNEGO_PROTOCOL
) -> tuple[str, bytes]:
    """Encrypt a SOAP message into the WinRM MIME framing; answers ``(content_type, body)``."""
    header, encrypted = acceptor.wrap(message)
    payload = (
        f"--{BOUNDARY}\r\n"
        f"\tContent-Type: {protocol}\r\n"
        f"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={len(message)}\r\n"
        f"--{BOUNDARY}\r\n"
        "\tContent-Type: application/octet-stream\r\n"
    ).encode("ascii")
    body = (
        payload + struct.pack("<i", len(header)) + header + encrypted + f"--{BOUNDARY}--\r\n".encode("ascii")
    )
    content_type = f'multipart/encrypted;protocol="{protocol}";boundary="{BOUNDARY}"'
    return content_type, body


def unwrap_message(acceptor: NegotiateAcceptor, body: bytes) -> bytes:
    """Decrypt a ``multipart/encrypted`` request body (one or more encrypted parts)."""
    parts = [p for p in _PART.split(body) if p]
    if len(parts) < 2 or len(parts) % 2:
        raise AuthError("malformed multipart/encrypted body")
    out = bytearray()
    for meta, payload in _pairs(parts):
        m = re.search(rb"Length=(\d+)", meta)
        if not m:
            raise AuthError("encrypted part without OriginalContent length")
        payload = re.sub(rb"--\s*" + re.escape(BOUNDARY.encode()) + rb"--\r\n$", b"", payload)
        payload = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
        if len(payload) < 4:
            raise AuthError("truncated encrypted part")
        header_len = struct.unpack("<i", payload[:4])[0]
        if header_len < 0 or header_len > len(payload) - 4:
            raise AuthError("bad encrypted part header length")
        header = payload[4 : 4 + header_len]
        out += acceptor.unwrap(header, payload[4 + header_len :])
    return bytes(out)


def _delegated_credentials(ctx: Any) -> Any:
    """The delegated credential of an accepted Kerberos context (inside pyspnego's SPNEGO proxy:
    the chosen mechanism's context, then python-gssapi's ``SecurityContext.delegated_creds``)."""
    inner = ctx
    for _ in range(3):
        gss = getattr(inner, "_context", None)
        if gss is None:
            return None
        creds = getattr(gss, "delegated_creds", None)
        if creds is not None:
            return creds
        inner = gss
    return None


def _reason(exc: BaseException) -> str:
    """The first line of a handshake failure's own words (GSSAPI's major/minor text), short."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text[:200]


def _pairs(items: list[bytes]) -> Iterable[tuple[bytes, bytes]]:
    for i in range(0, len(items), 2):
        yield items[i], items[i + 1]
