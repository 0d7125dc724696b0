"""Removable Storage (``rsm.exe``) on a simulated Windows Server 2003 node.

``rsm refresh /LF"<library>"`` (library names are case-sensitive; the refresh is recorded on the
library) and ``rsm view /tlibrary`` (lists the libraries). Other verbs are not simulated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from clpbackup.testing.model.base import Proc, ToolResult, lines

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.testing.model.node import SimulatedWindows


@dataclass
class Library:
    """A tape library (or stand-alone drive) known to Removable Storage."""

    name: str
    refreshed: list[datetime] = field(default_factory=list)


def add_library(node: SimulatedWindows, name: str) -> Library:
    """Make a library known to the node (done by the cluster for each plan ``library``)."""
    lib = node.libraries.get(name)
    if lib is None:
        lib = Library(name)
        node.libraries[name] = lib
    assert isinstance(lib, Library)
    return lib


def rsm_command(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    """``rsm refresh /LF"<name>"`` and ``rsm view /tlibrary``."""
    t = node.texts
    words = [a.lower() for a in argv]
    if words[:1] == ["refresh"] and len(argv) == 2 and words[1].startswith("/lf"):
        name = argv[1][3:]
        lib = node.libraries.get(name)  # case-sensitive, as Removable Storage names are
        if not isinstance(lib, Library):
            return ToolResult(1, err=lines(t.t("rsm.no_library", name=name)))
        lib.refreshed.append(node.clock.now())
        return ToolResult(0, lines(t.t("rsm.ok")))
    if words == ["view", "/tlibrary"]:
        names = sorted(node.libraries)
        return ToolResult(0, lines(t.t("rsm.library_header"), *names, t.t("rsm.ok")))
    return node.not_simulated_result("rsm " + tail)
