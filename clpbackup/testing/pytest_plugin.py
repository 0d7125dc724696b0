"""pytest plugin of ``clpbackup.testing`` (registered as the ``pytest11`` entry point ``clpbackup``).

Fixtures:

* ``sim_cluster`` — a factory: ``sim_cluster(plan, password=..., strict=False, **from_plan_kwargs)``
  builds and starts a :class:`~clpbackup.testing.SimulatedCluster` (stopped after the test). ``plan``
  is a :class:`~clpbackup.plan.Plan`, a dict, or a path to a plan file. ``password`` sets the
  environment variable(s) the plan names for the password, for this test only. With ``strict=True``
  the test fails at teardown when a node was asked for something the model does not simulate.
* ``sim_plan`` — a factory of a small valid two-node plan: ``sim_plan(os="2012", codepage=437,
  **overrides)``; its password variable is set for the test.
* ``simulated_windows`` — a factory of bare node models (no WinRM server):
  ``simulated_windows("node-a", "2008R2", codepage=932, volumes=["E:"])``.
* ``kdc`` — a real MIT Kerberos KDC for the session (:class:`~clpbackup.testing.kdc.TestRealm`:
  ``krb5kdc`` on 127.0.0.1, realm ``CLPBACKUP.TEST``), this process's ``KRB5_CONFIG`` pointed at it;
  stopped and removed at the end. Skips the test with the reason when the MIT tools or the
  ``gssapi`` package are missing. Give it to ``sim_cluster(plan, kdc=kdc)`` for nodes that are
  members of the realm.

Nothing heavy is imported until a fixture is used, so the plugin costs nothing in other test runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.plan import Plan
    from clpbackup.testing.cluster import SimulatedCluster
    from clpbackup.testing.model.node import SimulatedWindows

SIM_PASSWORD_ENV = "CLPBACKUP_SIM_PASSWORD"  # noqa: S105 (a variable name)
SIM_PASSWORD = "Sim-Passw0rd!"  # noqa: S105 (the simulated nodes' test password)


def _password_envs(plan: Plan) -> set[str]:
    names: set[str] = set()
    refs = [plan.connection.password] + [n.connection.password for n in plan.nodes if n.connection]
    for ref in refs:
        if ref is not None and ref.env:
            names.add(ref.env)
    return names


def _load(plan: Plan | dict[str, Any] | str | Path) -> Plan:
    from clpbackup.plan import Plan

    if isinstance(plan, Plan):
        return plan
    if isinstance(plan, dict):
        return Plan.from_dict(plan)
    return Plan.from_file(plan)


@pytest.fixture
def sim_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., SimulatedCluster]]:
    """Factory of started simulated clusters (see the module docstring)."""
    from clpbackup.testing.cluster import SimulatedCluster

    made: list[tuple[SimulatedCluster, bool]] = []

    def factory(
        plan: Plan | dict[str, Any] | str | Path,
        *,
        password: str | None = None,
        strict: bool = False,
        **kwargs: Any,
    ) -> SimulatedCluster:
        loaded = _load(plan)
        if password is not None:
            for name in _password_envs(loaded):
                monkeypatch.setenv(name, password)
        sim = SimulatedCluster.from_plan(loaded, **kwargs)
        sim.start()
        made.append((sim, strict))
        return sim

    yield factory
    problems: list[str] = []
    for sim, strict in made:
        sim.stop()
        if strict:
            problems += sim.not_simulated
    if problems:
        pytest.fail(
            "the simulator was asked for what it does not model:\n" + "\n".join(problems), pytrace=False
        )


@pytest.fixture
def sim_plan(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Plan]:
    """Factory of a small valid plan (home ``node-a``, switchover ``E:``, a local and a switchover job)."""
    from clpbackup.plan import Plan

    monkeypatch.setenv(SIM_PASSWORD_ENV, SIM_PASSWORD)

    def factory(os: str = "2012", codepage: int = 437, **overrides: Any) -> Plan:
        data: dict[str, Any] = {
            "cluster": {"name": "sim", "failover_group": "failover1", "switchover_volumes": ["E:"]},
            "nodes": [
                {"name": "node-a", "host": "192.0.2.11", "os": os, "home": True},
                {"name": "node-b", "host": "192.0.2.12", "os": os},
            ],
            "connection": {
                "auth": "ntlm",
                "username": "EXAMPLE\\backup-admin",
                "password": {"env": SIM_PASSWORD_ENV},
                "codepage": codepage,
            },
            "scripts_dir": "C:\\clpbackup",
            "jobs": {
                "local-daily": {
                    "scope": "local",
                    "include": ["C:\\data"],
                    "target": "\\\\nas01\\backup\\{node}",
                    "daily_at": "01:00",
                    "expected_duration": "1h",
                },
                "shared-daily": {
                    "scope": "switchover",
                    "include": ["E:"],
                    "target": "\\\\nas01\\backup\\{node}-shared",
                    "daily_at": "03:00",
                    "expected_duration": "1h",
                },
            },
            "failover_backup": {"job": "shared-daily", "at": "now"},
        }
        if os == "2003":
            for job in data["jobs"].values():
                job.pop("target")
                # a .bks folder line ends with a backslash (a line without it names a file)
                job["include"] = [i + "\\" if len(i) > 2 else i for i in job["include"]]
                job["ntbackup"] = {"media_pool": "4mm DDS", "library": "Tape Library"}
        data.update(overrides)
        return Plan.from_dict(data)

    return factory


@pytest.fixture(scope="session")
def kdc() -> Iterator[Any]:
    """A started :class:`~clpbackup.testing.kdc.TestRealm`, active in this process (see above)."""
    from clpbackup.testing.kdc import TestRealm, kdc_missing

    why = kdc_missing()
    if why is not None:
        pytest.skip(why)
    realm = TestRealm().start()
    try:
        realm.activate()
        yield realm
    finally:
        realm.stop()


@pytest.fixture
def simulated_windows() -> Callable[..., SimulatedWindows]:
    """Factory of bare node models (``SimulatedWindows(name, os, **kwargs)``), no endpoint."""
    from clpbackup.testing.model.node import SimulatedWindows

    def factory(name: str = "node-a", os: str = "2012", **kwargs: Any) -> SimulatedWindows:
        return SimulatedWindows(name, os, **kwargs)

    return factory
