"""The restore drill (DRILL-1) end to end, through real pypsrp against ``clpbackup.testing``."""

from __future__ import annotations

from pathlib import Path

import pytest

from clpbackup import render
from clpbackup.operations import ClusterBackup
from clpbackup.plan import Plan
from clpbackup.testing.cluster import SimulatedCluster
from clpbackup.testing.model.wbadmin import WsbVersion, _versions

EXAMPLES = Path(__file__).resolve().parents[2] / "clpbackup" / "examples"
PLANS = {
    "2003": "ws2003-ntbackup.yaml",
    "2008R2": "ws2008r2-wsb.yaml",
    "2012": "ws2012-wsb.yaml",
    "ja": "ws2012-ja.yaml",
    "2016-ja": "ws2016-ja.yaml",
    "2019": "ws2019-wsb.yaml",
}
WSB = [k for k in PLANS if k != "2003"]


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> Plan:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "Dr1ll-Passw0rd!")
    return Plan.from_file(EXAMPLES / PLANS[name])


@pytest.mark.parametrize("name", WSB)
def test_each_run_writes_a_canary_the_backup_holds_and_records_its_token(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load(name, monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        owner = sim.node(sim.owner)
        for job in plan.jobs:
            where = render.canary_path(plan, job)
            assert where is not None
            text = owner.files.read_text(where[0]).split()
            assert text[:2] == ["clpbackup-canary", job]
            token = text[2]
            record = owner.files.read_text(render.canary_record_path(plan, job)).splitlines()
            assert record[-1].split()[0] == token
            # the newest version of the job holds the canary as this run wrote it
            held = [v for v in _all_versions(sim) if v.node == sim.owner and where[0] in v.files]
            assert held and held[-1].files[where[0]].split()[2] == token.encode()
        sim.assert_all_simulated()


def _all_versions(sim: SimulatedCluster) -> list[WsbVersion]:
    found = [v for store in sim.shares.shares.values() for v in _versions(store)]
    for node in sim.nodes:
        for vol in node.model.fs.volumes.values():
            found += _versions(vol)
    return sorted(found, key=lambda v: v.when)


@pytest.mark.parametrize("name", ["2003", "2012"])
def test_uninstall_deletes_the_canaries_and_leaves_a_file_that_is_not_one(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load(name, monkeypatch)
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
        sim.advance(hours=24)
        owner = sim.node(sim.owner)
        paths = [w[0] for j in plan.jobs if (w := render.canary_path(plan, j)) is not None]
        assert paths and all(owner.files.exists(p) for p in paths)
        # an operator's file put where a canary was: not clpbackup's, so it stays (OWN-1)
        owner.files.write(paths[0], "my own notes\r\n")
        gone = cb.deploy(state="absent")
        for other in paths[1:]:
            assert not owner.files.exists(other), other
        assert owner.files.read_text(paths[0]) == "my own notes\r\n"
        assert any(c.name == paths[0] and c.action == "conflict" for c in gone[sim.owner].changes)
