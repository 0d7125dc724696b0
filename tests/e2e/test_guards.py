"""Do-no-harm guards end to end (issue #10): the node is the one the plan means, the scripts folder
is locked, errors keep the node's reason. Real pypsrp against ``clpbackup.testing``; assertions look
at the simulated nodes' own state."""

from __future__ import annotations

from pathlib import Path

import pytest

from clpbackup import ClusterBackup, Plan
from clpbackup.errors import PreflightFailed, RemoteCommandFailed
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


# -- errors keep their reason -------------------------------------------------------------------------


def _leftovers(sim: SimulatedCluster, node: str) -> list[str]:
    model = sim.node(node).model
    return [p for p, _ in model.fs.walk("C:\\") if p.lower().endswith((".clpbackup-tmp", ".clpbackup-old"))]


def test_a_directory_in_the_way_is_reported_with_the_nodes_reason(plan2012: Plan) -> None:
    with SimulatedCluster.from_plan(plan2012) as sim, ClusterBackup(sim.plan) as cb:
        script = next(f.path for f in cb.artifacts["node-a"].files if f.role == "backup-script")
        assert cb.deploy().ok
        fs = sim.node("node-a").model.fs
        fs.delete(script)
        fs.mkdir(script)  # a folder of the script's name is in the way
        result = cb.deploy()
        err = result["node-a"]
        assert isinstance(err, RemoteCommandFailed), err
        assert err.node == "node-a" and script in str(err)
        assert "Cannot create a file when that file already exists" in str(err), err
        assert _leftovers(sim, "node-a") == []
        assert isinstance(result["node-b"], DeployResult)


def test_access_denied_and_disk_full_keep_their_reason(plan2012: Plan) -> None:
    from clpbackup.testing.model.fs import Volume

    data = plan2012.model_dump(mode="python", exclude_none=True)
    data["scripts_dir"] = "D:\\clpbackup"
    plan = Plan.from_dict(data)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        denied_d, full_d = Volume("D:"), Volume("D:")
        denied_d.writable = False  # access denied
        full_d.free_bytes = 300  # the node lock's file fits, the batch files do not
        sim.node("node-a").model.fs.attach(denied_d)
        sim.node("node-b").model.fs.attach(full_d)
        result = cb.deploy()
        denied, full = result["node-a"], result["node-b"]
        assert isinstance(denied, RemoteCommandFailed) and "is denied" in str(denied), denied
        assert isinstance(full, RemoteCommandFailed) and "not enough space" in str(full), full
        assert "D:\\clpbackup" in str(denied) and "D:\\clpbackup" in str(full)
        for volume in (denied_d, full_d):
            keys = [k for k, _ in volume.walk_files()]
            assert [k for k in keys if k.endswith((".clpbackup-tmp", ".clpbackup-old"))] == []
        # once the node is fixed, a later deploy converges
        denied_d.writable = True
        full_d.free_bytes = None
        again = cb.deploy()
        assert again.ok, again


# -- the scripts folder is run by SYSTEM: locked ----------------------------------------------------


SYSTEM, ADMINISTRATORS, USERS = "S-1-5-18", "S-1-5-32-544", "S-1-5-32-545"


@pytest.mark.parametrize("name", ["plan2012", "plan2008r2"])
def test_deploy_creates_the_scripts_folder_for_system_and_administrators_only(
    name: str, request: pytest.FixtureRequest
) -> None:
    plan: Plan = request.getfixturevalue(name)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        fs = sim.node(plan.nodes[0].name).model.fs
        fs.mkdir("C:\\elsewhere")  # what Windows gives a folder made under C:\ without an ACL
        assert fs.may_write("C:\\elsewhere", USERS)
        assert cb.deploy().ok
        for n in sim.nodes:
            acl = n.model.fs.acl(plan.scripts_dir)
            assert acl.protected and acl.writers == {SYSTEM, ADMINISTRATORS}, acl
            assert not n.model.fs.may_write(plan.scripts_dir, USERS)
            assert not n.model.fs.may_write(plan.scripts_dir, "S-1-5-11")  # Authenticated Users
        status = cb.status()
        assert not [p for v in status.values() for p in getattr(v, "problems", []) if p.rule == "ACL-1"]


def test_an_existing_folder_others_may_write_is_refused_unless_the_plan_says_so(plan2012: Plan) -> None:
    with SimulatedCluster.from_plan(plan2012) as sim:
        for n in sim.nodes:
            n.model.fs.mkdir(plan2012.scripts_dir)  # inherits "Users may create files" from C:\
            n.model.fs.write_bytes(plan2012.scripts_dir + "\\planted.txt", b"by a user")
        before = {n.name: scheduled(sim, n.name) for n in sim.nodes}
        with ClusterBackup(sim.plan) as cb:
            result = cb.deploy()
            status = cb.status()
        for n in plan2012.nodes:
            err = result[n.name]
            assert isinstance(err, PreflightFailed) and err.rule == "ACL-1", err
            assert "BUILTIN\\Users (S-1-5-32-545)" in str(err)
            assert "allow_writable_scripts_dir" in (err.hint or "")
            assert sim.node(n.name).files.listdir(plan2012.scripts_dir) == ["planted.txt"]
            assert scheduled(sim, n.name) == before[n.name]
            st = status[n.name]
            assert isinstance(st, StatusResult) and any(p.rule == "ACL-1" for p in st.problems), st
        data = sim.plan.model_dump(mode="python", exclude_none=True)
        data["allow_writable_scripts_dir"] = True
        with ClusterBackup(Plan.from_dict(data)) as cb:
            assert cb.deploy().ok


def test_status_reports_a_folder_opened_after_deploy(plan2012: Plan) -> None:
    from clpbackup.testing.model.fs import FolderAcl

    with SimulatedCluster.from_plan(plan2012) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        opened = FolderAcl(ADMINISTRATORS, frozenset({SYSTEM, ADMINISTRATORS, "S-1-1-0"}), True)
        sim.node("node-b").model.fs.set_acl(plan2012.scripts_dir, opened)
        status = cb.status()
        problems = [p for p in status["node-b"].problems if p.rule == "ACL-1"]  # type: ignore[union-attr]
        assert problems and "Everyone (S-1-1-0)" in problems[0].message, status["node-b"]
        assert isinstance(cb.deploy()["node-b"], PreflightFailed)
