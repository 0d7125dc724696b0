"""``clpbackup simulate PLAN --write-plan OUT.yaml``: serve a simulated cluster until interrupted.

:func:`run_simulate` builds a :class:`~clpbackup.testing.SimulatedCluster` from the plan file, starts
its two WinRM endpoints on 127.0.0.1, writes the plan pointed at them to ``write_plan`` (the
password stays a reference to the same environment variable), prints where they listen, and serves
until Ctrl+C (or until ``stop`` is set). With ``speed`` > 0 the model's clock runs at that many model
seconds per real second, so schedules fire while you watch (3600: an hour a second).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from clpbackup.plan import Plan
from clpbackup.testing.cluster import SimulatedCluster

LANGS = {932: "ja-JP"}


def plan_yaml(plan: Plan) -> str:
    """The plan as YAML that :meth:`Plan.from_yaml` reads back (no secrets: passwords are references)."""
    data = plan.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def run_simulate(
    plan_path: str | Path,
    write_plan: str | Path | None = None,
    *,
    ssl: bool = False,
    latency: float = 0.0,
    speed: float = 0.0,
    protocol_versions: dict[str, str] | None = None,
    wsb_installed: bool = True,
    schedule_running: bool = True,
    out: Callable[[str], None] = print,
    stop: threading.Event | None = None,
    poll: float = 0.2,
) -> int:
    """Serve a simulated cluster for the plan at ``plan_path`` until interrupted; returns 0.

    Raises :class:`~clpbackup.errors.PlanError` when the plan does not load or its password variable
    is unset (set it first: the nodes accept that password).
    """
    plan = Plan.from_file(plan_path)
    sim = SimulatedCluster.from_plan(
        plan,
        ssl=ssl,
        latency=latency,
        protocol_versions=protocol_versions,
        wsb_installed=wsb_installed,
        schedule_running=schedule_running,
    )
    stop = stop or threading.Event()
    with sim:
        local = sim.plan
        if write_plan is not None:
            Path(write_plan).write_text(plan_yaml(local), encoding="utf-8")
        out(
            f"Simulated cluster {plan.cluster.name!r} (group {plan.cluster.failover_group!r}, "
            f"owner {sim.owner}), model time {sim.clock.now():%Y-%m-%d %H:%M} UTC"
        )
        for node in sim.nodes:
            m = node.model
            out(
                f"  {node.name}: {node.server.url}  Windows Server {m.os}, PowerShell {m.ps_version}, "
                f"{LANGS.get(m.codepage, 'en-US')} (code page {m.codepage})"
            )
        if write_plan is not None:
            out(f"Plan for these endpoints: {write_plan}")
        out("Serving; press Ctrl+C to stop.")
        last = time.monotonic()
        try:
            while not stop.wait(poll):
                if speed > 0:
                    now = time.monotonic()
                    ran = sim.advance(seconds=(now - last) * speed)
                    last = now
                    for item in ran:
                        out(f"  {sim.clock.now():%Y-%m-%d %H:%M} UTC ran {item}")
        except KeyboardInterrupt:
            out("Stopping.")
        problems = sim.not_simulated
        if problems:
            out("Asked for but not simulated:")
            for p in problems:
                out(f"  {p}")
    return 0
