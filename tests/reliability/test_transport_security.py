"""Transport security end to end: what goes on the wire for each connection setting.

Through real pypsrp against the simulated WinRM endpoints (``clpbackup.testing``), with a TCP relay
in between (:class:`Tap`) that records every byte both ways, so "encrypted" and "nothing was sent"
are checked on the wire itself rather than on clpbackup's own account of it:

* certificate validation is on by default: against a node whose certificate is not trusted the TLS
  handshake fails, no HTTP request and no credential leaves the machine; a CA bundle path
  validates; ``cert_validation: false`` connects and warns; a CA path that does not exist or a
  quoted ``"false"`` is refused before anything is sent, naming the field;
* over plain HTTP the default authentications (negotiate/ntlm) seal every message: the relay sees
  ``multipart/encrypted`` bodies and none of the script text, file contents or password that the
  simulated node decrypts;
* Basic authentication (or any setting without encryption) over HTTP is refused before a single
  byte is sent unless ``allow_insecure: true``; with it clpbackup warns, and the relay shows why
  the refusal is the default: the password crosses the network as base64;
* the same rules hold per node (a node's override cannot slip past them) and for the WinRS
  transport, the CLI and the rule check (SEC-1 warning).
"""

from __future__ import annotations

import base64
import logging
import os
import re
import socket
import ssl
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clpbackup import ClusterBackup, Plan
from clpbackup.errors import AuthenticationFailed, ConnectionFailed, PlanError
from clpbackup.plan import Connection
from clpbackup.results import DeployResult, StatusResult
from clpbackup.testing import SimulatedCluster
from clpbackup.testing.simulate_cli import plan_yaml
from clpbackup.transport._connect import check_connection, wsman_settings
from tests.reliability._tap import Tap

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "clpbackup" / "examples" / "ws2012-wsb.yaml"
PASSWORD = "Tr4nsport-S3cret-7781"  # distinctive: any sighting on the wire is a finding
USER = "EXAMPLE\\backup-admin"


def password_forms(secret: str) -> list[bytes]:
    """How a password could show on the wire: as text, UTF-16, base64, in a Basic header."""
    forms = [secret.encode("utf-8"), secret.encode("utf-16-le"), base64.b64encode(secret.encode())]
    forms.append(base64.b64encode(f"{USER}:{secret}".encode()))
    return forms


# -- helpers -------------------------------------------------------------------------------------------------


@pytest.fixture
def plan(monkeypatch: pytest.MonkeyPatch) -> Plan:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    return Plan.from_file(EXAMPLE)


def with_connection(plan: Plan, node: str | None = None, **settings: Any) -> Plan:
    """``plan`` with connection settings changed for every node (or one), as a plan file would."""
    nodes = []
    for n in plan.nodes:
        if node is None or n.name == node:
            conn = n.connection.model_copy(update=settings) if n.connection else None
            if conn is None:
                from clpbackup.plan import ConnectionOverride

                conn = ConnectionOverride(**settings)
            n = n.model_copy(update={"connection": conn})
        nodes.append(n)
    return plan.model_copy(update={"nodes": nodes})


def through_taps(plan: Plan, sim: SimulatedCluster) -> tuple[Plan, dict[str, Tap]]:
    """``plan`` pointed at a recording relay in front of each simulated node."""
    taps = {n.name: Tap(n.server.port).start() for n in sim.nodes}
    return plan.with_endpoints({name: {"port": tap.port} for name, tap in taps.items()}), taps


@pytest.fixture
def taps() -> Iterator[list[dict[str, Tap]]]:
    made: list[dict[str, Tap]] = []
    yield made
    for group in made:
        for tap in group.values():
            tap.stop()


def _decoded_payloads(body: str) -> bytes:
    """Everything readable in a decrypted WS-Man body: the XML and its base64 PSRP fragments."""
    out = bytearray(body.encode("utf-8"))
    for blob in re.findall(r"[A-Za-z0-9+/]{24,}={0,2}", body):
        try:
            out += base64.b64decode(blob + "=" * (-len(blob) % 4))
        except ValueError:
            continue
    return bytes(out)


# -- the settings matrix (pure) ------------------------------------------------------------------------------


@pytest.mark.parametrize("ssl", [False, True])
@pytest.mark.parametrize("allow_insecure", [False, True])
@pytest.mark.parametrize("auth", ["negotiate", "ntlm", "kerberos", "credssp", "basic", "certificate"])
def test_every_auth_and_ssl_setting_encrypts_or_is_refused(
    auth: str, ssl: bool, allow_insecure: bool, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The whole matrix: an encrypting setting, a warning with allow_insecure, or a refusal."""
    extra: dict[str, Any] = {}
    if auth == "certificate":
        for name in ("c.pem", "k.pem"):
            (tmp_path / name).write_text("x")
        extra = {"certificate_pem": str(tmp_path / "c.pem"), "certificate_key_pem": str(tmp_path / "k.pem")}
    conn = Connection(auth=auth, ssl=ssl, allow_insecure=allow_insecure, username=USER, **extra)  # type: ignore[arg-type]
    caplog.set_level(logging.WARNING, logger="clpbackup.transport")
    if auth == "certificate" and not ssl:
        with pytest.raises(PlanError) as info:
            check_connection("node-a", conn)
        assert info.value.field == "connection.ssl"
        return
    if auth == "basic" and not ssl and not allow_insecure:
        with pytest.raises(PlanError) as info:
            check_connection("node-a", conn)
        assert info.value.field == "connection.auth" and info.value.node == "node-a"
        return
    settings = wsman_settings("node-a", "192.0.2.11", conn)
    assert "password" not in settings
    if ssl:
        assert settings["encryption"] == "auto" and settings["cert_validation"] is True
        assert settings["port"] == 5986
    elif auth == "basic":
        assert settings["encryption"] == "never"  # allow_insecure: the operator's explicit choice
        assert "without message encryption" in caplog.text and "node-a" in caplog.text
    else:
        assert settings["encryption"] == "always"  # NTLM/Kerberos/CredSSP seal every message
    if not (auth == "basic" and not ssl):
        assert "in clear" not in caplog.text


def test_defaults_are_the_secure_ones() -> None:
    conn = Connection()
    settings = (conn.auth, conn.ssl, conn.cert_validation, conn.allow_insecure)
    assert settings == ("negotiate", False, True, False)
    assert check_connection("n", conn) == "always"


@pytest.mark.parametrize("text", ["false", "False", "no", "off", "0", "true", "yes", ""])
def test_a_quoted_boolean_is_not_taken_for_a_ca_bundle(text: str, plan: Plan) -> None:
    """``cert_validation: "false"`` (quoted) would otherwise be read as the path of a CA file."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["connection"]["cert_validation"] = text
    with pytest.raises(PlanError) as info:
        Plan.from_dict(data)
    assert info.value.field == "connection.cert_validation"
    data["connection"]["cert_validation"] = True
    data["nodes"][1]["connection"] = {"cert_validation": text}
    with pytest.raises(PlanError) as info:
        Plan.from_dict(data)
    assert info.value.field == "nodes[1].connection.cert_validation"


# -- HTTPS: certificate validation ---------------------------------------------------------------------------


def test_https_validates_the_certificate_by_default_and_sends_nothing_to_an_untrusted_node(
    plan: Plan,
) -> None:
    with SimulatedCluster.from_plan(plan, ssl=True) as sim:
        untrusted = with_connection(sim.plan, cert_validation=True)  # the default: system CAs
        assert all(untrusted.connection_for(n).cert_validation is True for n in untrusted.nodes)
        with ClusterBackup(untrusted) as cb:
            result = cb.status()
        for n in plan.nodes:
            err = result[n.name]
            assert isinstance(err, ConnectionFailed), err
            assert "CERTIFICATE_VERIFY_FAILED" in str(err) and "cert_validation" in (err.hint or "")
            assert PASSWORD not in str(err)
        # the TLS handshake failed: no HTTP request, no authentication leg reached the node
        assert [(n.server.requests, n.server.auth_requests) for n in sim.nodes] == [(0, 0), (0, 0)]


def test_https_with_the_ca_bundle_connects(plan: Plan) -> None:
    with SimulatedCluster.from_plan(plan, ssl=True) as sim:
        trusted = sim.plan  # cert_validation = the simulated node's CA file
        assert all(isinstance(trusted.connection_for(n).cert_validation, str) for n in trusted.nodes)
        with ClusterBackup(trusted) as cb:
            result = cb.deploy()
        assert result.ok and all(isinstance(v, DeployResult) for v in result.values())


def test_https_without_validation_connects_and_warns(plan: Plan, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="clpbackup.transport")
    with SimulatedCluster.from_plan(plan, ssl=True) as sim:
        with ClusterBackup(with_connection(sim.plan, cert_validation=False)) as cb:
            result = cb.status()
        assert all(isinstance(v, StatusResult) for v in result.values())
    for n in plan.nodes:
        assert f"node {n.name}: TLS certificate validation is OFF" in caplog.text


def test_a_missing_ca_bundle_is_refused_before_connecting(plan: Plan, tmp_path: Path) -> None:
    with SimulatedCluster.from_plan(plan, ssl=True) as sim:
        missing = str(tmp_path / "no-such-ca.pem")
        with ClusterBackup(with_connection(sim.plan, cert_validation=missing)) as cb:
            result = cb.status()
        for n in plan.nodes:
            err = result[n.name]
            assert isinstance(err, PlanError) and err.field == "connection.cert_validation", err
            assert missing in str(err)
        assert [(n.server.requests, n.server.auth_requests) for n in sim.nodes] == [(0, 0), (0, 0)]


def test_a_tls_1_0_node_over_https_fails_with_the_version_hint(plan: Plan) -> None:
    """2003's TLS 1.0 against this client's TLS 1.2 floor: the handshake fails before any request,
    and the hint says what to do (HTTP with message encryption), not to look at certificates. The
    simulated 2003 listener offers TLS 1.0 only, as SChannel on 2003 does."""
    plan = Plan.from_file(EXAMPLE.with_name("ws2003-ntbackup.yaml"))
    with SimulatedCluster.from_plan(plan, ssl=True) as sim:
        # the listener does speak TLS 1.0 to a client that still allows it ...
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old = ssl.create_default_context(cafile=sim.nodes[0].server.ca_cert_path)
            old.set_ciphers("DEFAULT:@SECLEVEL=0")
            old.minimum_version = ssl.TLSVersion.TLSv1
        with socket.create_connection(sim.endpoint(plan.home_node.name)) as raw:
            with old.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                assert tls.version() == "TLSv1"
        # ... and clpbackup (pypsrp, urllib3, OpenSSL) does not
        with ClusterBackup(sim.plan) as cb:
            result = cb.status()
        for n in plan.nodes:
            err = result[n.name]
            assert isinstance(err, ConnectionFailed), err
            assert "TLS failed during open" in str(err) and "ssl: false" in (err.hint or "")
            assert "certificate" not in (err.hint or "")
        assert [(n.server.requests, n.server.auth_requests) for n in sim.nodes] == [(0, 0), (0, 0)]
        # the recommended setting for such a node: HTTP with message encryption
    with SimulatedCluster.from_plan(plan, ssl=False) as sim, ClusterBackup(sim.plan) as cb:
        assert all(isinstance(v, StatusResult) for v in cb.status().values())


def test_https_basic_keeps_the_password_inside_tls(plan: Plan, taps: list[dict[str, Tap]]) -> None:
    with SimulatedCluster.from_plan(plan, ssl=True) as sim:
        tapped, relays = through_taps(with_connection(sim.plan, auth="basic"), sim)
        taps.append(relays)
        with ClusterBackup(tapped) as cb:
            result = cb.status()
        assert all(isinstance(v, StatusResult) for v in result.values()), result
        for tap in relays.values():
            wire = tap.wire()
            assert wire and b"HTTP/1.1" not in wire and b"Authorization" not in wire  # all of it is TLS
            assert not [f for f in password_forms(PASSWORD) if f in wire]


# -- HTTP: message encryption, and the refusal of Basic ------------------------------------------------------


def test_http_ntlm_seals_every_message_on_the_wire(plan: Plan, taps: list[dict[str, Tap]]) -> None:
    with SimulatedCluster.from_plan(plan, ssl=False) as sim:
        for n in sim.nodes:
            n.server.record = True
        tapped, relays = through_taps(sim.plan, sim)
        taps.append(relays)
        with ClusterBackup(tapped) as cb:
            result = cb.deploy()
            assert result.ok, result
            contents = [f.content for art in cb.artifacts.values() for f in art.files]
        for n in sim.nodes:
            upstream = bytes(relays[n.name].upstream)
            posts = upstream.count(b"POST /wsman")
            sealed = upstream.count(b"multipart/encrypted")
            # every request with a body after the NTLM handshake is sealed (the handshake legs and
            # the empty POST that sets up encryption carry no message)
            assert sealed >= n.server.requests >= 7, (posts, sealed, n.server.requests)
            decrypted = b"".join(_decoded_payloads(body) for body in n.server.received)
            wire = relays[n.name].wire()
            # what the node decrypted holds the operations' script text and the files' bytes ...
            markers = [b"clpbackup-op: inspect", b"clpbackup-op: apply"]
            markers += [base64.b64encode(c)[:48] for c in contents]
            assert all(m in decrypted for m in markers)
            # ... and none of it, nor the password, is readable on the wire
            assert [m for m in markers if m in wire] == []
            assert [f for f in password_forms(PASSWORD) if f in wire] == []
            assert b"<s:Envelope" not in wire and b"<env:Envelope" not in wire


def test_http_basic_is_refused_before_a_byte_is_sent(plan: Plan, taps: list[dict[str, Tap]]) -> None:
    assert [f.rule for f in with_connection(plan, auth="basic").findings() if f.rule == "SEC-1"]
    with SimulatedCluster.from_plan(plan, ssl=False) as sim:
        tapped, relays = through_taps(with_connection(sim.plan, auth="basic"), sim)
        taps.append(relays)
        with ClusterBackup(tapped) as cb:
            result = cb.deploy()
        for n in plan.nodes:
            err = result[n.name]
            assert isinstance(err, PlanError) and err.field == "connection.auth", err
            assert "ssl: true" in (err.hint or "") and "allow_insecure" in (err.hint or "")
        assert [tap.connections for tap in relays.values()] == [0, 0]
        assert [n.server.auth_requests for n in sim.nodes] == [0, 0]


def test_http_basic_with_allow_insecure_warns_and_the_wire_shows_why(
    plan: Plan, taps: list[dict[str, Tap]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="clpbackup.transport")
    with SimulatedCluster.from_plan(plan, ssl=False) as sim:
        insecure = with_connection(sim.plan, auth="basic", allow_insecure=True)
        tapped, relays = through_taps(insecure, sim)
        taps.append(relays)
        with ClusterBackup(tapped) as cb:
            result = cb.status()
        # the simulated node models AllowUnencrypted=false (Windows' default): it refuses Basic over HTTP
        for n in plan.nodes:
            err = result[n.name]
            assert isinstance(err, AuthenticationFailed), err
            assert PASSWORD not in str(err) and PASSWORD not in repr(err)
            warned = f"node {n.name}: basic authentication over plain HTTP without message encryption"
            assert warned in caplog.text
        assert PASSWORD not in caplog.text
        for tap in relays.values():  # what allow_insecure means: the password readable on the wire
            assert base64.b64encode(f"{USER}:{PASSWORD}".encode()) in bytes(tap.upstream)


def test_a_node_override_cannot_slip_past_the_refusal(plan: Plan) -> None:
    with SimulatedCluster.from_plan(plan, ssl=False) as sim:
        mixed = with_connection(sim.plan, node="node-b", auth="basic")
        with ClusterBackup(mixed) as cb:
            result = cb.status()
        assert isinstance(result["node-a"], StatusResult)
        err = result["node-b"]
        assert isinstance(err, PlanError) and err.field == "connection.auth" and err.node == "node-b"
        assert sim.node("node-b").server.auth_requests == 0


def test_winrs_transport_applies_the_same_rules(plan: Plan) -> None:
    with SimulatedCluster.from_plan(plan, ssl=False) as sim:
        winrs = with_connection(sim.plan, transport="winrs", auth="basic")
        with ClusterBackup(winrs) as cb:
            result = cb.status()
        for n in plan.nodes:
            err = result[n.name]
            assert isinstance(err, PlanError) and err.field == "connection.auth", err
        assert [n.server.auth_requests for n in sim.nodes] == [0, 0]


def test_cli_refuses_basic_over_http_and_names_the_field(plan: Plan, tmp_path: Path) -> None:
    with SimulatedCluster.from_plan(plan, ssl=False) as sim:
        path = tmp_path / "plan.yaml"
        path.write_text(plan_yaml(with_connection(sim.plan, auth="basic")), encoding="utf-8")
        env = {**os.environ, "CLPBACKUP_PASSWORD": PASSWORD}
        run = subprocess.run(
            [sys.executable, "-m", "clpbackup", "status", str(path)],
            env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )
        assert run.returncode != 0
        out = run.stdout + run.stderr
        assert "connection.auth" in out and "allow_insecure" in out and PASSWORD not in out
        assert [n.server.auth_requests for n in sim.nodes] == [0, 0]


# -- no password to an unverified peer (issue #10) ------------------------------------------------


@pytest.mark.parametrize("auth", ["basic", "credssp"])
def test_a_password_auth_over_unvalidated_tls_is_refused_without_allow_insecure(auth: str) -> None:
    """Basic (and CredSSP) hand the password to whoever answers; with cert_validation: false that can
    be anyone on the path. Refused like Basic over HTTP, naming the node and the field."""
    conn = Connection(auth=auth, ssl=True, cert_validation=False, username=USER)  # type: ignore[arg-type]
    with pytest.raises(PlanError) as info:
        check_connection("node-a", conn)
    assert info.value.field == "connection.cert_validation" and info.value.node == "node-a"
    assert "allow_insecure" in (info.value.hint or "")
    insecure = Connection(auth=auth, ssl=True, cert_validation=False, username=USER, allow_insecure=True)  # type: ignore[arg-type]
    assert check_connection("node-a", insecure) == "auto"
    # NTLM/Kerberos never give the node the password itself: allowed, with the warning as before
    assert check_connection("node-a", Connection(ssl=True, cert_validation=False)) == "auto"


def test_a_fake_node_with_a_self_signed_certificate_never_sees_the_basic_password(
    plan: Plan, taps: list[dict[str, Tap]]
) -> None:
    """The reproduction of issue #10: auth basic, ssl true, cert_validation false validated with no
    finding, and a node with a self-signed certificate received the password."""
    weak = with_connection(plan, auth="basic", ssl=True, cert_validation=False)
    sec = [f for f in weak.findings() if f.rule == "SEC-1"]
    assert sec and all("cert_validation" in (f.field or "") for f in sec), sec
    with SimulatedCluster.from_plan(plan, ssl=True) as sim:
        tapped, relays = through_taps(with_connection(sim.plan, auth="basic", cert_validation=False), sim)
        taps.append(relays)
        with ClusterBackup(tapped) as cb:
            result = cb.deploy()
        for n in plan.nodes:
            err = result[n.name]
            assert isinstance(err, PlanError) and err.field == "connection.cert_validation", err
        assert [tap.connections for tap in relays.values()] == [0, 0]
        assert [n.server.auth_requests for n in sim.nodes] == [0, 0]
