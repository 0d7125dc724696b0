"""Do-no-harm guards end to end (issue #10): the node is the one the plan means, the scripts folder
is locked, errors keep the node's reason. Real pypsrp against ``clpbackup.testing``; assertions look
at the simulated nodes' own state."""

from __future__ import annotations

from pathlib import Path

import pytest

from clpbackup import ClusterBackup, Plan
from clpbackup.errors import PreflightFailed
from clpbackup.results import DeployResult, StatusResult
from clpbackup.testing import SimulatedCluster

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plans"
PASSWORD = "Gu4rd-Passw0rd!"


@pytest.fixture
def plan2012(monkeypatch: pytest.MonkeyPatch) -> Plan:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    return Plan.from_file(EXAMPLES / "ws2012-wsb.yaml")


@pytest.fixture
def plan2008r2(monkeypatch: pytest.MonkeyPatch) -> Plan:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    return Plan.from_file(EXAMPLES / "ws2008r2-wsb.yaml")


def scheduled(sim: SimulatedCluster, node: str) -> list[str]:
    n = sim.node(node)
    return sorted([*n.tasks, *[f"at:{j.at_id}" for j in n.at_jobs]])


def swapped(sim: SimulatedCluster) -> Plan:
    """The plan with the two nodes' addresses swapped, as an operator's slip would."""
    a, b = sim.plan.nodes
    return sim.plan.with_endpoints(
        {a.name: {"port": sim.endpoint(b.name)[1]}, b.name: {"port": sim.endpoint(a.name)[1]}}
    )


# -- the node is the one the plan means ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["plan2012", "plan2008r2"])
def test_swapped_hosts_are_refused_and_nothing_is_written(name: str, request: pytest.FixtureRequest) -> None:
    plan: Plan = request.getfixturevalue(name)
    with SimulatedCluster.from_plan(plan) as sim:
        before = {n.name: scheduled(sim, n.name) for n in sim.nodes}
        with ClusterBackup(swapped(sim)) as cb:
            result = cb.deploy()
            status = cb.status()
        for n in plan.nodes:
            other = next(o.name for o in plan.nodes if o.name != n.name)
            err = result[n.name]
            assert isinstance(err, PreflightFailed) and err.rule == "NODE-ID", err
            assert other.upper() in str(err) and err.node == n.name
            assert not sim.node(n.name).files.exists(plan.scripts_dir)
            assert scheduled(sim, n.name) == before[n.name]
            st = status[n.name]
            assert isinstance(st, StatusResult) and any(p.rule == "NODE-ID" for p in st.problems), st


def test_a_mapped_computer_name_is_accepted(plan2012: Plan) -> None:
    with SimulatedCluster.from_plan(plan2012) as sim:
        sim.node("node-a").model.hostname = "SRV-DB01"
        with ClusterBackup(sim.plan) as cb:
            err = cb.deploy(check=True)["node-a"]
        assert isinstance(err, PreflightFailed) and "SRV-DB01" in str(err)
        data = sim.plan.model_dump(mode="python", exclude_none=True)
        data["nodes"][0]["computer_name"] = "srv-db01"
        with ClusterBackup(Plan.from_dict(data)) as cb:
            result = cb.deploy()
        assert result.ok and isinstance(result["node-a"], DeployResult), result
