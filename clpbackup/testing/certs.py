"""A self-signed TLS certificate for the simulator's HTTPS listener (WinRM over 5986).

The certificate names ``localhost`` and ``127.0.0.1`` (subjectAltName), so a client that validates
it against the certificate file itself (pypsrp's ``cert_validation=<path>``) connects to the
simulator like to a node whose listener uses a certificate from the operator's CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import tempfile
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["SelfSignedCert", "make_self_signed"]


@dataclass(frozen=True)
class SelfSignedCert:
    """Paths of a generated certificate and its key (PEM), and the DER form for channel bindings."""

    cert_path: str
    key_path: str
    der: bytes

    def remove(self) -> None:
        """Delete the files (and their folder)."""
        for path in (self.cert_path, self.key_path):
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(os.path.dirname(self.cert_path))
        except OSError:
            pass


def make_self_signed(common_name: str = "localhost", *, days: int = 7) -> SelfSignedCert:
    """Generate a P-256 key and a self-signed certificate for ``localhost``/``127.0.0.1``.

    The files go to a fresh private temporary folder; call :meth:`SelfSignedCert.remove` when done.
    ECDSA keeps generation fast (milliseconds), which matters when every test starts a server.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName(common_name),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = tempfile.mkdtemp(prefix="clpbackup-sim-tls-")
    cert_path = os.path.join(folder, "cert.pem")
    key_path = os.path.join(folder, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return SelfSignedCert(cert_path, key_path, cert.public_bytes(serialization.Encoding.DER))
