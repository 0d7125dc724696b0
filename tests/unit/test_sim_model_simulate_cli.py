"""run_simulate: serves the cluster, writes a plan that loads back and points at the endpoints."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from clpbackup.errors import PlanError
from clpbackup.plan import Plan
from clpbackup.testing.pytest_plugin import SIM_PASSWORD
from clpbackup.testing.simulate_cli import plan_yaml, run_simulate


def test_serves_and_writes_the_local_plan(tmp_path: Path, sim_plan: Callable[..., Plan]) -> None:
    source = tmp_path / "plan.yaml"
    source.write_text(plan_yaml(sim_plan("2008R2", 932)), encoding="utf-8")
    target = tmp_path / "local.yaml"
    stop = threading.Event()
    lines: list[str] = []

    def out(line: str) -> None:
        lines.append(line)
        if line.startswith("Serving"):
            local = Plan.from_file(target)
            assert [n.host for n in local.nodes] == ["127.0.0.1", "127.0.0.1"]
            ports = [local.connection_for(n).port for n in local.nodes]
            assert all(ports) and ports[0] != ports[1]
            stop.set()

    assert run_simulate(source, target, out=out, stop=stop, poll=0.01, speed=3600) == 0
    assert any("node-b: http://127.0.0.1:" in line and "ja-JP" in line for line in lines)
    written = target.read_text(encoding="utf-8")
    assert (
        "CLPBACKUP_SIM_PASSWORD" in written and SIM_PASSWORD not in written
    )  # a reference, never the secret


def test_unset_password_variable_is_a_plan_error(
    tmp_path: Path, sim_plan: Callable[..., Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "plan.yaml"
    source.write_text(plan_yaml(sim_plan()), encoding="utf-8")
    monkeypatch.delenv("CLPBACKUP_SIM_PASSWORD")
    with pytest.raises(PlanError) as info:
        run_simulate(source, None, out=lambda _: None, stop=threading.Event())
    assert "CLPBACKUP_SIM_PASSWORD" in str(info.value)
