"""Kerberos without a KDC: the plan fields (spn_host, delegate), what pypsrp is given, how GSSAPI's
failures read, and which path the version reads take. The real exchanges are the Kerberos tier's
(tests/kerberos, ``pytest -m kerberos``); the GSSAPI texts below are the ones it got from MIT krb5.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest
from spnego import ContextReq
from spnego.exceptions import ErrorCode, SpnegoError

from clpbackup import nodestate
from clpbackup.errors import AuthenticationFailed, PlanError
from clpbackup.plan import Plan
from clpbackup.transport._connect import credentials_delegated, wsman_settings
from clpbackup.transport._errors import map_error

BASE: dict[str, Any] = {
    "cluster": {"name": "c", "failover_group": "failover1", "switchover_volumes": ["E:"]},
    "nodes": [
        {"name": "node-a", "host": "10.0.0.11", "os": "2019", "home": True,
         "connection": {"spn_host": "node-a.corp.example"}},
        {"name": "node-b", "host": "node-b.corp.example", "os": "2019"},
    ],
    "connection": {"auth": "kerberos", "delegate": True},
    "jobs": {
        "local-daily": {"scope": "local", "include": ["C:\\data"], "target": "\\\\nas01\\backup\\{node}",
                        "daily_at": "01:00"},
    },
}


def _plan(**changes: Any) -> Plan:
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target: Any = data
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[last] = value
    return Plan.from_dict(data)


def test_spn_host_and_delegate_reach_pypsrp_as_its_negotiate_options() -> None:
    plan = _plan()
    a = wsman_settings("node-a", "10.0.0.11", plan.connection_for("node-a"))
    assert a["negotiate_hostname_override"] == "node-a.corp.example"
    assert a["negotiate_delegate"] is True
    b = wsman_settings("node-b", "node-b.corp.example", plan.connection_for("node-b"))
    assert "negotiate_hostname_override" not in b  # the SPN comes from host
    assert b["negotiate_delegate"] is True
    plain = _plan(connection={"auth": "negotiate"}, nodes__0__connection={})
    settings = wsman_settings("node-a", "10.0.0.11", plain.connection_for("node-a"))
    assert "negotiate_delegate" not in settings and "negotiate_hostname_override" not in settings


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"connection__spn_host": "node.corp.example"}, "connection.spn_host", "belongs to one node"),
        ({"nodes__0__connection": {"spn_host": "10.0.0.11"}}, "nodes[0].connection.spn_host",
         "not a DNS name"),
        ({"nodes__0__connection": {"spn_host": "node a"}}, "nodes[0].connection.spn_host", "not a DNS name"),
        ({"connection": {"auth": "ntlm"}}, "nodes[0].connection.spn_host", "auth: ntlm"),
        ({"connection": {"auth": "ntlm", "delegate": True}, "nodes__0__connection": {}},
         "connection.delegate", "only Kerberos uses it"),
        ({"nodes__1__connection": {"auth": "credssp"}}, "connection.delegate", "node node-b"),
    ],
)
def test_kerberos_fields_are_refused_where_they_mean_nothing(
    changes: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(PlanError) as info:
        _plan(**changes)
    assert info.value.field == field, str(info.value)
    assert words in str(info.value)


# What MIT krb5 (1.20) said through pyspnego in the Kerberos tier, one per case.
GSS_TEXTS = {
    "no-ticket": "Minor (2529639053): No Kerberos credentials available (default cache: FILE:/tmp/krb5cc_0)",
    "wrong-principal": "Minor (2529639053): Can't find client principal backup-admin@CLPBACKUP.TEST in "
    "cache collection",
    "expired": "Minor (2529638944): Ticket expired",
    "missing-spn": "Minor (2529638919): Server host/node-z.clpbackup.test@CLPBACKUP.TEST not found in "
    "Kerberos database",
    "no-kdc": "Minor (2529639068): Cannot contact any KDC for realm 'CLPBACKUP.TEST'",
}


@pytest.mark.parametrize(
    ("case", "what", "fix"),
    [
        ("no-ticket", "no Kerberos ticket on this machine", "kinit <user>@<REALM>"),
        ("wrong-principal", "no ticket for the principal the plan names (connection.username)", "klist"),
        ("expired", "your Kerberos ticket has expired", "kinit again"),
        ("missing-spn", "knows no service principal (SPN)", "nodes[].connection.spn_host"),
        ("no-kdc", "no KDC (domain controller) of the realm answered", "krb5.conf"),
    ],
)
def test_gssapi_failures_read_as_what_happened_and_the_fix(case: str, what: str, fix: str) -> None:
    exc = SpnegoError(error_code=ErrorCode.failure, context_msg=GSS_TEXTS[case])
    err = map_error(exc, node="node-b", phase="open")
    assert isinstance(err, AuthenticationFailed)
    text = str(err)
    assert "node-b" in text and what in text and fix in (err.hint or ""), text
    minor = GSS_TEXTS[case].split("): ", 1)[1]
    assert f"({minor})" in text, text  # GSSAPI's own words, once, without the codes


def test_a_wrong_password_in_the_plan_reads_as_one() -> None:
    """pyspnego's own kinit (username and password in the plan) raises the krb5 package's error
    unwrapped; before, it read "unexpected Krb5Error during open" (seen in the Kerberos tier)."""
    krb5_error = type("Krb5Error", (Exception,), {"__module__": "krb5._exceptions"})
    err = map_error(krb5_error("Decrypt integrity check failed -1765328353"), node="node-a", phase="open")
    assert isinstance(err, AuthenticationFailed), err
    assert "the KDC refused the password of connection.username" in str(err)
    assert "connection.password" in (err.hint or "")


def test_an_unknown_spnego_failure_keeps_the_generic_text() -> None:
    exc = SpnegoError(error_code=ErrorCode.failure, context_msg="something else entirely")
    err = map_error(exc, node="node-a", phase="open")
    assert isinstance(err, AuthenticationFailed)
    assert "the authentication exchange failed" in str(err)


def _wsman(*attrs: tuple[bool, int]) -> Any:
    contexts = {
        f"h{i}": SimpleNamespace(complete=c, context_attr=ContextReq(a)) for i, (c, a) in enumerate(attrs)
    }
    return SimpleNamespace(transport=SimpleNamespace(session=SimpleNamespace(auth=SimpleNamespace(
        contexts=contexts))))


def test_delegation_is_what_the_established_context_says() -> None:
    deleg = int(ContextReq.delegate | ContextReq.mutual_auth | ContextReq.integrity)
    assert credentials_delegated(_wsman((True, deleg)))
    assert not credentials_delegated(_wsman((True, int(ContextReq.mutual_auth | ContextReq.integrity))))
    assert not credentials_delegated(_wsman((False, deleg)))  # not established
    assert not credentials_delegated(SimpleNamespace(transport=SimpleNamespace(session=None)))


def test_the_version_reads_take_the_delegated_path_only_when_it_is_there() -> None:
    plan = _plan()
    node = plan.node("node-a")
    assert nodestate.wants_delegation(plan, node)
    assert not nodestate.reads_shares_directly(plan, node)  # asked for, not (yet) granted
    assert nodestate.reads_shares_directly(plan, node, delegated=True)
    art = plan.render()["node-a"]
    request, _ = nodestate.build_inspect(plan, node, art, versions=True)
    direct, _ = nodestate.build_inspect(plan, node, art, versions=True, delegated=True)
    assert any(p.lower().endswith("local-daily-versions.txt") for p in request.read_paths), request.read_paths
    assert not any(p.lower().endswith("local-daily-versions.txt") for p in direct.read_paths)
    assert len(direct.commands) == len(request.commands) + 1  # wbadmin get versions -backupTarget
    # a plan that does not ask never delegates, whatever the session says
    no = _plan(connection={"auth": "kerberos"})
    assert not nodestate.wants_delegation(no, no.node("node-a"))
    assert not nodestate.reads_shares_directly(no, no.node("node-a"), delegated=True)
