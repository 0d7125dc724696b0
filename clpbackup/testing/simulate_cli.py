"""``clpbackup simulate PLAN --write-plan OUT.yaml``: serve a simulated cluster until interrupted.

:func:`run_simulate` builds a :class:`~clpbackup.testing.SimulatedCluster` from the plan file, starts
its two WinRM endpoints on 127.0.0.1, writes the plan pointed at them to ``write_plan`` (the
password stays a reference to the same environment variable), prints where they listen, and serves
until Ctrl+C (or until ``stop`` is set). With ``speed`` > 0 the model's clock runs at that many model
seconds per real second, so schedules fire while you watch (3600: an hour a second).

With ``write_plan``, a second shell drives the running simulator (``clpbackup sim advance 24h``,
``sim failover``, ``sim failback``, ``sim status``) through the control endpoint of
:mod:`clpbackup.testing.control`, whose address and token go to a 0600 file next to the written plan.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from clpbackup.plan import Plan
from clpbackup.testing.cluster import SimulatedCluster
from clpbackup.testing.control import ControlServer

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
    backup_duration: float = 0.0,
    out: Callable[[str], None] = print,
    stop: threading.Event | None = None,
    poll: float = 0.2,
    ready: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """Serve a simulated cluster for the plan at ``plan_path`` until interrupted; returns 0.

    ``ready`` is called once the endpoints listen, with what ``clpbackup simulate --format json``
    prints: ``{"cluster", "group", "owner", "model_time", "plan", "nodes": [{"name", "url", "os",
    "powershell", "codepage"}]}``.

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
        backup_duration=backup_duration,
    )
    stop = stop or threading.Event()
    lock = threading.Lock()  # the clock loop below and the control endpoint take turns
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
        control = None
        if write_plan is not None:
            out(f"Plan for these endpoints: {write_plan}")
            control = control_server(sim, Path(write_plan).resolve().parent, lock, out).start()
            where = Path(write_plan).parent
            verbs = "status|advance 24h|failover|failback|down NODE|up NODE"
            out(f"Control: clpbackup sim {verbs} --dir {where}")
        if ready is not None:
            ready({
                "cluster": plan.cluster.name,
                "group": plan.cluster.failover_group,
                "owner": sim.owner,
                "model_time": f"{sim.clock.now():%Y-%m-%d %H:%M}",
                "plan": str(write_plan) if write_plan is not None else None,
                "nodes": [
                    {"name": n.name, "url": n.server.url, "os": n.model.os,
                     "powershell": n.model.ps_version, "codepage": n.model.codepage}
                    for n in sim.nodes
                ],
            })
        out("Serving; press Ctrl+C to stop.")
        last = time.monotonic()
        restore = _stop_on_sigterm(stop)
        try:
            while not stop.wait(poll):
                if speed > 0:
                    now = time.monotonic()
                    with lock:
                        ran = sim.advance(seconds=(now - last) * speed)
                    last = now
                    for item in ran:
                        out(f"  {sim.clock.now():%Y-%m-%d %H:%M} UTC ran {item}")
        except KeyboardInterrupt:
            out("Stopping.")
        finally:
            restore()
            if control is not None:
                control.stop()
        problems = sim.not_simulated
        if problems:
            out("Asked for but not simulated:")
            for p in problems:
                out(f"  {p}")
    return 0


def _stop_on_sigterm(stop: threading.Event) -> Callable[[], None]:
    """SIGTERM stops like Ctrl+C (the control file is removed); a simulator started with ``&`` in
    a script ignores SIGINT. Returns the function that puts the previous handler back."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, lambda _sig, _frame: stop.set())

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


def control_server(
    sim: SimulatedCluster, folder: Path, lock: threading.Lock, out: Callable[[str], None]
) -> ControlServer:
    """The control endpoint of ``sim`` with its control file in ``folder`` (not started yet).

    Each action is reported through ``out`` too; ``lock`` is held while one runs. The docs tests
    use it to let ``clpbackup sim …`` lines of a page drive that page's simulated cluster.
    """

    def now() -> str:
        return f"{sim.clock.now():%Y-%m-%d %H:%M} UTC"

    def advance(body: dict[str, Any]) -> dict[str, Any]:
        seconds = body.get("seconds")
        if not isinstance(seconds, int) or seconds < 0:
            raise ValueError("advance needs a duration of 0 seconds or more")
        ran = sim.advance(seconds=seconds)
        for item in ran:
            out(f"  ran {item}")
        out(f"  clock advanced to {now()}")
        return {"now": now(), "ran": ran}

    def move(kind: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def act(_body: dict[str, Any]) -> dict[str, Any]:
            run = sim.failover() if kind == "failover" else sim.failback()
            script = None if run.rc is None else {"path": run.path, "event": run.event, "rc": run.rc}
            out(f"  {kind}: the group now runs on {sim.owner}")
            return {"owner": sim.owner, "start_script": script, "now": now()}

        return act

    def status(_body: dict[str, Any]) -> dict[str, Any]:
        return {
            "cluster": sim.source_plan.cluster.name,
            "now": now(),
            "owner": sim.owner,
            "nodes": {n.name: {"url": n.server.url, "os": n.model.os} for n in sim.nodes},
        }

    def power(kind: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def act(body: dict[str, Any]) -> dict[str, Any]:
            name = body.get("node")
            names = [n.name for n in sim.nodes]
            if name not in names:
                raise ValueError(f"{kind} needs a node: one of {', '.join(names)}")
            node = sim.node(str(name))
            if kind == "down":
                node.inject("down")  # resets connections like a host that is off; refuses new ones
            else:
                node.clear_faults()
            out(f"  {name} is {kind}")
            return {"node": name, "state": kind, "now": now()}

        return act

    def share(kind: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        # a file server the jobs back up to stops answering ("The network path was not found.", as
        # on both nodes for a server that is off): the next backup to it fails (ALERT-1 raises it)
        def act(body: dict[str, Any]) -> dict[str, Any]:
            server = str(body.get("server") or "").strip("\\").lower()
            if not server or "\\" in server:
                raise ValueError(f"{kind} needs a file server's name, such as nas01")
            if kind == "share-down":
                sim.shares.unreachable.add(server)
            else:
                sim.shares.unreachable.discard(server)
            out(f"  \\\\{server} is {'down' if kind == 'share-down' else 'up'}")
            return {"server": server, "state": kind, "now": now()}

        return act

    actions = {
        "advance": advance, "failover": move("failover"), "failback": move("failback"), "status": status,
        "down": power("down"), "up": power("up"),
        "share-down": share("share-down"), "share-up": share("share-up"),
    }
    return ControlServer(folder, actions, lock)
