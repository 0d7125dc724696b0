"""Kerberos end to end: a real MIT KDC, nodes that are members of its realm, clpbackup with a ticket.

The operator's side is what docs/security.md says: a krb5.conf naming the realm's KDC
(``rdns = false``, ``dns_canonicalize_hostname = false``), ``kinit`` with the password on stdin, the
plan with ``auth: kerberos`` (or ``negotiate``), no password, each node's name in the domain as
``connection.spn_host`` (the endpoints listen on 127.0.0.1).
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clpbackup import ClusterBackup
from clpbackup.errors import AuthenticationFailed
from clpbackup.plan import Plan
from clpbackup.results import StatusResult
from clpbackup.testing.cluster import SimulatedCluster
from clpbackup.testing.kdc import TestRealm

pytestmark = pytest.mark.kerberos

USER = "backup-admin"
PASSWORD = "Kerb-Passw0rd!"


@pytest.fixture
def user(kdc: TestRealm) -> str:
    return kdc.add_user(USER, PASSWORD)


@pytest.fixture
def ticket(kdc: TestRealm, user: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """``ticket(forwardable=False, lifetime=None, who=USER)``: kinit, and KRB5CCNAME at the cache."""

    def make(*, forwardable: bool = False, lifetime: str | None = None, who: str = USER,
             password: str = PASSWORD) -> Path:
        cache = kdc.kinit(who, password, forwardable=forwardable, lifetime=lifetime)
        monkeypatch.setenv("KRB5CCNAME", f"FILE:{cache}")
        return cache

    return make


def kerberos_plan(sim_plan: Callable[..., Plan], auth: str = "kerberos", **connection: Any) -> Plan:
    """The simulator's sample plan as an operator in the realm writes it: no password, no user (the
    ticket says who), each node's DNS name in the domain."""
    base = sim_plan()
    data = base.model_dump(mode="json", exclude_none=True)
    data["connection"] = {"auth": auth, "codepage": 437, **connection}
    for n in data["nodes"]:
        n["connection"] = {"spn_host": f"{n['name']}.clpbackup.test"}
    return Plan.from_dict(data)


@pytest.fixture
def cluster(kdc: TestRealm) -> Iterator[Callable[..., SimulatedCluster]]:
    made: list[SimulatedCluster] = []

    def make(plan: Plan, **kwargs: Any) -> SimulatedCluster:
        sim = SimulatedCluster.from_plan(plan, kdc=kdc, **kwargs)
        sim.start()
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.stop()


@pytest.mark.parametrize("auth", ["kerberos", "negotiate"])
def test_deploy_and_status_with_a_kerberos_ticket(
    auth: str, sim_plan: Callable[..., Plan], cluster: Callable[..., SimulatedCluster],
    ticket: Callable[..., Path], kdc: TestRealm,
) -> None:
    """kinit, then deploy and status as in a domain: every request is Kerberos-authenticated and
    encrypted; the KDC issued a service ticket for each node's host/ principal."""
    ticket()
    sim = cluster(kerberos_plan(sim_plan, auth))
    plan = sim.plan
    assert all(plan.connection_for(n).auth == auth for n in plan.nodes)
    with ClusterBackup(plan) as cb:
        deployed = cb.deploy()
        assert deployed.ok, deployed
        status = cb.status()
        assert status.ok, status
    log = kdc.kdc_log.read_text()
    for name in ("node-a", "node-b"):
        assert f"for host/{name}.clpbackup.test@CLPBACKUP.TEST" in log, log[-2000:]
        assert sim.node(name).tasks, "deploy created the node's tasks"


def _versions_notes(result: Any) -> list[str]:
    return [n for n in result.notes if "versions of" in n or "connection.delegate" in n]


def test_status_with_delegation_reads_share_versions_directly(
    sim_plan: Callable[..., Plan], cluster: Callable[..., SimulatedCluster], ticket: Callable[..., Path],
) -> None:
    """delegate: true, a forwardable ticket, nodes trusted for delegation: the session holds the
    user's ticket, status sends wbadmin get versions against the share from the session itself (the
    second hop works) and has the versions before any run recorded them."""
    ticket(forwardable=True)
    sim = cluster(kerberos_plan(sim_plan, delegate=True), trusted_for_delegation=True)
    with ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        first = cb.status()
        assert first.ok, first
        home = first["node-a"]
        assert isinstance(home, StatusResult)
        assert not _versions_notes(home), home.notes  # nothing "not recorded yet": read directly
        runs = sim.node("node-a").model.runs_of("wbadmin")
        assert runs and {r.user for r in runs} == {"Administrator"}, runs  # the session's logon
        assert all("-backupTarget:\\\\nas01" in r.arguments for r in runs), runs
        assert all("No backups were found." in r.out for r in runs), runs  # not "Access is denied."
        sim.advance(hours=24)
        status = cb.status()
    assert status.ok, status
    home = status["node-a"]
    assert isinstance(home, StatusResult) and home.versions["local-daily"], home.versions
    assert not _versions_notes(home), home.notes


@pytest.mark.parametrize(
    ("forwardable", "trusted"),
    [(False, True), (True, False)],
    ids=["ticket-not-forwardable", "node-not-trusted-for-delegation"],
)
def test_status_without_delegation_reads_what_the_runs_recorded(
    forwardable: bool, trusted: bool, sim_plan: Callable[..., Plan],
    cluster: Callable[..., SimulatedCluster], ticket: Callable[..., Path],
) -> None:
    """delegate: true, but the handshake did not delegate (a ticket without F, or a node whose
    service ticket lacks OK-AS-DELEGATE): status knows it, never sends the share read that would be
    refused (the second hop), reads the recorded file and says why in a note."""
    ticket(forwardable=forwardable)
    sim = cluster(kerberos_plan(sim_plan, delegate=True), trusted_for_delegation=trusted)
    with ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        status = cb.status()
    assert status.ok, status
    home = status["node-a"]
    assert isinstance(home, StatusResult)
    assert home.versions["local-daily"] is None
    notes = " ".join(home.notes)
    assert "connection.delegate is true but the session holds no delegated Kerberos ticket" in notes
    assert "kinit -f" in notes and "versions of local-daily" in notes
    assert not sim.node("node-a").model.runs_of("wbadmin"), "no share read from the session"


# -- what fails, and how it reads (docs/security.md) ------------------------------------------------


def _status_error(sim: SimulatedCluster, node: str = "node-a") -> str:
    """The text status gives for ``node``'s failure (the node named, the fix in the hint)."""
    with ClusterBackup(sim.plan) as cb:
        status = cb.status()
    assert not status.ok, status
    err = status[node]
    assert isinstance(err, AuthenticationFailed), err
    text = str(err)
    assert f"node {node}" in text or node in text, text
    return text


def test_no_ticket_says_kinit(
    sim_plan: Callable[..., Plan], cluster: Callable[..., SimulatedCluster], kdc: TestRealm,
    monkeypatch: pytest.MonkeyPatch, user: str,
) -> None:
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{kdc.folder}/no-such-cache")
    text = _status_error(cluster(kerberos_plan(sim_plan)))
    assert "no Kerberos ticket on this machine" in text and "kinit" in text, text
    assert "No Kerberos credentials available" in text, text  # GSSAPI's own words


def test_a_ticket_of_another_principal_names_connection_username(
    sim_plan: Callable[..., Plan], cluster: Callable[..., SimulatedCluster], kdc: TestRealm,
    ticket: Callable[..., Path], user: str,
) -> None:
    kdc.add_user("someone-else", PASSWORD)
    ticket(who="someone-else")
    plan = kerberos_plan(sim_plan, username=f"{USER}@CLPBACKUP.TEST")
    text = _status_error(cluster(plan))
    assert "connection.username" in text and "no ticket for the principal" in text, text
    assert f"{USER}@CLPBACKUP.TEST" in text, text


def test_an_expired_ticket_says_kinit_again(
    sim_plan: Callable[..., Plan], cluster: Callable[..., SimulatedCluster], ticket: Callable[..., Path],
) -> None:
    sim = cluster(kerberos_plan(sim_plan))
    ticket(lifetime="2s")
    time.sleep(3)
    text = _status_error(sim)
    assert "your Kerberos ticket has expired" in text and "kinit again" in text, text
    assert "Ticket expired" in text, text


def test_a_node_without_its_spn_in_the_domain_names_the_spn_and_spn_host(
    sim_plan: Callable[..., Plan], cluster: Callable[..., SimulatedCluster], kdc: TestRealm,
    ticket: Callable[..., Path],
) -> None:
    """node-b's service principals are gone from the KDC (a computer whose SPNs were removed, or a
    name that is not the node's in the domain): node-b fails naming the SPN and the plan field;
    node-a still works."""
    ticket()
    sim = cluster(kerberos_plan(sim_plan))
    for principal in kdc.service_principals("node-b.clpbackup.test"):
        kdc.delete(principal)
    with ClusterBackup(sim.plan) as cb:
        status = cb.status()
    assert isinstance(status["node-a"], StatusResult)
    err = status["node-b"]
    assert isinstance(err, AuthenticationFailed), err
    text = str(err)
    assert "node-b" in text and "host/node-b.clpbackup.test@CLPBACKUP.TEST not found" in text, text
    assert "nodes[].connection.spn_host" in text and "setspn -L" in text, text


def test_an_unreachable_kdc_names_krb5_conf(
    sim_plan: Callable[..., Plan], cluster: Callable[..., SimulatedCluster], kdc: TestRealm,
    ticket: Callable[..., Path],
) -> None:
    """With a ticket-granting ticket but no KDC to give a service ticket (domain controllers down
    or port 88 blocked), the error says so and where the KDCs are configured."""
    ticket()
    sim = cluster(kerberos_plan(sim_plan))
    kdc.pause()
    try:
        text = _status_error(sim)
    finally:
        kdc.resume()
    assert "no KDC (domain controller) of the realm answered" in text and "krb5.conf" in text, text
    assert "Cannot contact any KDC for realm 'CLPBACKUP.TEST'" in text, text


def test_a_password_in_the_plan_gets_the_ticket_and_never_shows(
    sim_plan: Callable[..., Plan], cluster: Callable[..., SimulatedCluster], kdc: TestRealm, user: str,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """username + password in the plan (no kinit): pyspnego asks the KDC itself; with a wrong
    password the node fails with Kerberos' words, and the password is in no message, log or repr."""
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{kdc.folder}/no-such-cache")
    monkeypatch.setenv("CLPBACKUP_KRB_PASSWORD", PASSWORD)
    plan = kerberos_plan(
        sim_plan, username=f"{USER}@CLPBACKUP.TEST", password={"env": "CLPBACKUP_KRB_PASSWORD"}
    )
    sim = cluster(plan)
    caplog.set_level("DEBUG")
    with ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
    wrong = "Wr0ng-" + PASSWORD
    monkeypatch.setenv("CLPBACKUP_KRB_PASSWORD", wrong)
    with ClusterBackup(sim.plan) as cb:
        status = cb.status()
        texts = [str(status), repr(cb), repr(sim), repr(kdc)]
    err = status["node-a"]
    assert isinstance(err, AuthenticationFailed), err
    texts += [str(err), repr(err), caplog.text]
    for text in texts:
        assert wrong not in text and PASSWORD not in text
    assert "Kerberos" in str(err) or "authentication" in str(err), err


def test_the_winrs_transport_authenticates_with_the_ticket_too(
    sim_plan: Callable[..., Plan], cluster: Callable[..., SimulatedCluster], ticket: Callable[..., Path],
    kdc: TestRealm,
) -> None:
    """transport: winrs (cmd shells, no PowerShell) goes through the same handshake and sealing."""
    ticket()
    sim = cluster(kerberos_plan(sim_plan, transport="winrs"))
    with ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        assert cb.status().ok
    assert all(sim.node(n).tasks for n in ("node-a", "node-b"))


def test_negotiate_with_a_password_falls_back_to_ntlm_when_the_spn_is_missing(
    sim_plan: Callable[..., Plan], cluster: Callable[..., SimulatedCluster], kdc: TestRealm, user: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What docs/security.md says of Negotiate: with username and password in the plan, a node the
    KDC has no service principal for is still reached (NTLM, every message sealed), where
    auth: kerberos fails (test_a_node_without_its_spn_in_the_domain_names_the_spn_and_spn_host)."""
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{kdc.folder}/no-such-cache")
    monkeypatch.setenv("CLPBACKUP_KRB_PASSWORD", PASSWORD)
    plan = kerberos_plan(
        sim_plan, "negotiate", username=f"{USER}@CLPBACKUP.TEST", password={"env": "CLPBACKUP_KRB_PASSWORD"}
    )
    sim = cluster(plan)
    for principal in kdc.service_principals("node-b.clpbackup.test"):
        kdc.delete(principal)
    with ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
    log = kdc.kdc_log.read_text()
    assert "for host/node-a.clpbackup.test@CLPBACKUP.TEST" in log
    assert "UNKNOWN_SERVER" in log or "not found" in log.lower(), log[-1500:]


def test_delegation_without_the_file_servers_spn_is_refused_at_the_share(
    sim_plan: Callable[..., Plan], cluster: Callable[..., SimulatedCluster], ticket: Callable[..., Path],
    kdc: TestRealm,
) -> None:
    """The node uses the forwarded ticket as Windows does: it asks the KDC for cifs/<file server>.
    Without that principal the hop fails although the handshake delegated: clpbackup took the
    direct path (it was delegated), the share refused the session, and status names the share,
    the delegated source and the fix (the file server's SPN, the share's permissions)."""
    ticket(forwardable=True)
    sim = cluster(kerberos_plan(sim_plan, delegate=True), trusted_for_delegation=True)
    kdc.delete("cifs/nas01.clpbackup.test")
    with ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        status = cb.status()
    home = status["node-a"]
    assert isinstance(home, StatusResult)
    wsb3 = [p.message for p in home.problems if p.rule == "WSB-3" and "local-daily" in p.message]
    assert wsb3, home.problems
    text = wsb3[0]
    assert "Access is denied." in text and "delegated Kerberos ticket" in text, text
    assert "cifs/nas01" in text, text
    runs = sim.node("node-a").model.runs_of("wbadmin")
    assert runs and all("Access is denied." in r.out for r in runs), runs


def test_a_client_keytab_needs_no_kinit(
    sim_plan: Callable[..., Plan], cluster: Callable[..., SimulatedCluster], kdc: TestRealm, user: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A service account's keytab named by KRB5_CLIENT_KTNAME, an empty credential cache: MIT
    Kerberos gets the ticket from the keytab by itself (docs/security.md)."""
    keytab = kdc.user_keytab(USER)
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{kdc.folder}/keytab-user-cache")
    monkeypatch.setenv("KRB5_CLIENT_KTNAME", f"FILE:{keytab}")
    sim = cluster(kerberos_plan(sim_plan, username=f"{USER}@CLPBACKUP.TEST"))
    with ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
    assert f"{USER}@CLPBACKUP.TEST for krbtgt/CLPBACKUP.TEST" in kdc.kdc_log.read_text()


def test_a_node_with_negotiate_off_is_reached_with_the_kerberos_scheme_and_its_sealing(
    sim_plan: Callable[..., Plan], cluster: Callable[..., SimulatedCluster], ticket: Callable[..., Path],
) -> None:
    """winrm set winrm/config/service/auth @{Negotiate="false"}: the node offers the Kerberos scheme
    alone; pypsrp then speaks it and seals with application/HTTP-Kerberos-session-encrypted
    (MS-WSMV 2.2.9.1), and clpbackup works as with Negotiate. NTLM is refused there."""
    from clpbackup.transport.psrp import PsrpSession
    from clpbackup.transport.types import InspectRequest

    ticket()
    sim = cluster(kerberos_plan(sim_plan), negotiate_enabled=False)
    plan = sim.plan
    node = plan.node("node-a")
    session = PsrpSession("node-a", node.host, plan.connection_for(node))
    try:
        facts = session.inspect(InspectRequest(want_facts=True)).facts
        assert facts is not None and facts.hostname == "NODE-A"
        wsman: Any = session._wsman
        assert wsman.transport.encryption.protocol == "application/HTTP-Kerberos-session-encrypted"
    finally:
        session.close()
    with ClusterBackup(plan) as cb:
        assert cb.deploy().ok
    conn = http.client.HTTPConnection(*sim.endpoint("node-a"), timeout=10)
    try:
        ntlm_negotiate = "Negotiate TlRMTVNTUAABAAAAB4IIog=="  # an NTLM NEGOTIATE_MESSAGE
        conn.request("POST", "/wsman", body=b"", headers={"Authorization": ntlm_negotiate})
        answer = conn.getresponse()
        assert answer.status == 401 and answer.getheader("WWW-Authenticate") == "Kerberos"
    finally:
        conn.close()
