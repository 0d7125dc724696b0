"""The model of a Windows Server node behind the simulator (see :class:`SimulatedWindows`)."""

from clpbackup.testing.model.clock import NodeTime, SimClock
from clpbackup.testing.model.fs import ShareStore, Volume
from clpbackup.testing.model.node import ClusterInfo, SimulatedWindows

__all__ = ["ClusterInfo", "NodeTime", "ShareStore", "SimClock", "SimulatedWindows", "Volume"]
