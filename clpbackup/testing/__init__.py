"""clpbackup's simulator: two-node clusters of simulated Windows Server nodes behind real WinRM
endpoints on 127.0.0.1 (see ``docs/testing.md``).

``SimulatedCluster.from_plan(plan)`` builds them; ``SimulatedWindows`` is the model of one node;
the pytest plugin (``clpbackup.testing.pytest_plugin``) gives the ``sim_cluster`` fixture. Names are
imported lazily so that ``import clpbackup.testing.backend`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["SimulatedCluster", "SimulatedNode", "SimulatedWindows"]

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.testing.cluster import SimulatedCluster, SimulatedNode
    from clpbackup.testing.model.node import SimulatedWindows


def __getattr__(name: str) -> Any:
    if name in ("SimulatedCluster", "SimulatedNode"):
        from clpbackup.testing import cluster

        return getattr(cluster, name)
    if name == "SimulatedWindows":
        from clpbackup.testing.model.node import SimulatedWindows

        return SimulatedWindows
    raise AttributeError(f"module 'clpbackup.testing' has no attribute {name!r}")
