"""The WinRM HTTPS listener speaks its OS's TLS versions; a node this client cannot speak to reads as
what to do (docs/security.md "TLS versions", docs/windows-facts.md).

2003, 2008 and 2008 R2 offer TLS 1.0 only out of the box (2008 after KB4019276 and 2008 R2 can
enable TLS 1.2 for the server in the SCHANNEL keys; 2003 never); 2012–2019 offer TLS 1.2, 2022
TLS 1.3. This client (pypsrp over urllib3 2 and OpenSSL 3) wants TLS 1.2 at least.
"""

from __future__ import annotations

import socket
import ssl
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from clpbackup import ClusterBackup
from clpbackup.errors import ConnectionFailed
from clpbackup.plan import Plan
from clpbackup.results import StatusResult
from clpbackup.testing.cluster import SimulatedCluster
from clpbackup.testing.pytest_plugin import SIM_PASSWORD, SIM_PASSWORD_ENV

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "clpbackup" / "examples"


@pytest.fixture
def plan_for(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Plan]:
    def load(name: str) -> Plan:
        plan = Plan.from_file(EXAMPLES / name)
        for ref in [plan.connection.password] + [n.connection.password for n in plan.nodes if n.connection]:
            if ref is not None and ref.env:
                monkeypatch.setenv(ref.env, SIM_PASSWORD)
        monkeypatch.setenv(SIM_PASSWORD_ENV, SIM_PASSWORD)
        return plan

    return load


def _negotiated(sim: SimulatedCluster, node: str) -> str | None:
    """The TLS version the listener agrees to with a client that allows TLS 1.0 to 1.3."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ssl.create_default_context(cafile=sim.node(node).server.ca_cert_path)
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    with socket.create_connection(sim.endpoint(node)) as raw, ctx.wrap_socket(
        raw, server_hostname="127.0.0.1"
    ) as tls:
        return tls.version()


@pytest.mark.parametrize(
    ("example", "version"),
    [("ws2003-ntbackup.yaml", "TLSv1"), ("ws2008r2-wsb.yaml", "TLSv1"), ("ws2012-wsb.yaml", "TLSv1.2"),
     ("ws2019-wsb.yaml", "TLSv1.2")],
)
def test_each_os_listener_speaks_its_tls_versions(
    example: str, version: str, plan_for: Callable[[str], Plan]
) -> None:
    plan = plan_for(example)
    with SimulatedCluster.from_plan(plan, ssl=True) as sim:
        assert {_negotiated(sim, n.name) for n in plan.nodes} == {version}


def test_a_2008_r2_node_over_https_fails_with_the_tls_hint_until_tls_1_2_is_enabled(
    plan_for: Callable[[str], Plan],
) -> None:
    """Out of the box the 2008 R2 listener offers TLS 1.0, which this client refuses: status names
    the node and says to use HTTP with message encryption or to enable TLS 1.2 on the node, and no
    request (no credential) left the machine. With TLS 1.2 enabled on the node it connects."""
    plan = plan_for("ws2008r2-wsb.yaml")
    with SimulatedCluster.from_plan(plan, ssl=True) as sim, ClusterBackup(sim.plan) as cb:
        result = cb.status()
        for n in plan.nodes:
            err = result[n.name]
            assert isinstance(err, ConnectionFailed), err
            text, hint = str(err), err.hint or ""
            assert n.name in text and "TLS failed during open" in text, text
            assert "enable TLS 1.2 on the node" in hint and "ssl: false" in hint, hint
            assert "certificate" not in hint
        assert [(s.server.requests, s.server.auth_requests) for s in sim.nodes] == [(0, 0), (0, 0)]
    with SimulatedCluster.from_plan(plan, ssl=True, tls12_enabled=True) as sim, ClusterBackup(sim.plan) as cb:
        assert all(isinstance(v, StatusResult) for v in cb.status().values())
        assert {_negotiated(sim, n.name) for n in plan.nodes} == {"TLSv1.2"}


def test_tls_1_2_cannot_be_enabled_on_2003(plan_for: Callable[[str], Plan]) -> None:
    plan = plan_for("ws2003-ntbackup.yaml")
    with pytest.raises(ValueError, match=r"2003 has no TLS 1\.2"):
        SimulatedCluster.from_plan(plan, ssl=True, tls12_enabled=True)
