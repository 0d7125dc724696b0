"""Parse ``clpstat`` (CLUSTERPRO X / EXPRESSCLUSTER X cluster status): servers, groups, owners.

Pure code, no I/O. Input is text (cp932 on a ja-JP node, cp437 on en-US; decode with
:func:`clpbackup.parsers.common.decode`). The operations layer uses :func:`group_owner` as one piece
of evidence for "which node owns the switchover partition" (architecture decision 7: fail closed).

The format, as the simulator should print it
============================================
[cap] EXPRESSCLUSTER X 5.0 on Linux, en-US (the only capture); the Windows product prints the same
frame with Windows resource types (``sd``/``md``/``fip``/``script``) [ref]. **ja-JP is assumed to
use the same frame, markers and English state words**; only free text (heartbeat descriptions)
may be Japanese. Example (one space of left margin)::

     ========================  CLUSTER STATUS  ===========================
      Cluster : prod-db
      <server>
       *node-a ..........: Online           <- "*" marks the server clpstat ran on
          lankhb1        : Normal           LAN Heartbeat
        node-b ..........: Online
          lankhb1        : Normal           LAN Heartbeat
      <group>
        failover1 .......: Online
          current        : node-a           <- the server the group runs on
          fip1           : Online
          sd1            : Online
          script1        : Online
      <monitor>
        fipw1            : Normal
        sdw1             : Normal
     =====================================================================

- An entry is ``<name> [dots] : <state>[  <detail>]``; the name never contains spaces; the state
  and an optional detail are separated by two or more spaces (``Online Pending`` is one state).
- Nesting is by indentation inside each section: the least indented entries are servers / groups
  / monitors, deeper ones their heartbeats / resources. ``current`` is a child of its group.
- States [mem]: server ``Online``/``Offline``/``Caution``/``Suspension``…; group ``Online``/
  ``Offline``/``Online Pending``/``Offline Pending``/``Error``/``Unknown``; monitor ``Normal``/
  ``Warning``/``Error``/``Offline``/``Suspend``. Kept as printed.
- ``current`` of a group that runs nowhere [assumed]: empty or ``--`` → ``None``.
- Section markers accepted: ``<server>``/``<group>``/``<monitor>`` and [assumed] ``<サーバ>``/
  ``<グループ>``/``<モニタ>``; the cluster line ``Cluster : <name>`` (or ``クラスタ : <name>``).
- Text without a cluster line and without any section (``clpstat`` not installed, the cluster
  service down: "Could not connect to the server.") → ``ParseError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from clpbackup.parsers.common import FormatProblem, guarded, is_blank, split_lines

__all__ = [
    "ClpEntry", "ClpGroup", "ClpServer", "ClusterStatus", "group_current", "group_owner", "parse_clpstat",
]


@dataclass(frozen=True)
class ClpEntry:
    """A heartbeat, resource or monitor line: name, state, optional detail text."""

    name: str
    state: str
    detail: str | None = None


@dataclass(frozen=True)
class ClpServer:
    """A cluster server; ``local`` is True for the server clpstat ran on (the ``*`` marker)."""

    name: str
    state: str
    local: bool
    heartbeats: tuple[ClpEntry, ...] = ()

    @property
    def online(self) -> bool:
        """True when the state is ``Online``."""
        return self.state.casefold() == "online"


@dataclass(frozen=True)
class ClpGroup:
    """A failover group; ``current`` is the server it runs on (``None`` when none is shown)."""

    name: str
    state: str
    current: str | None
    resources: tuple[ClpEntry, ...] = ()

    @property
    def online(self) -> bool:
        """True when the state is ``Online``."""
        return self.state.casefold() == "online"


@dataclass(frozen=True)
class ClusterStatus:
    """The whole ``clpstat`` frame."""

    cluster: str | None
    servers: tuple[ClpServer, ...]
    groups: tuple[ClpGroup, ...]
    monitors: tuple[ClpEntry, ...] = field(default=())

    @property
    def local_server(self) -> str | None:
        """The server clpstat ran on (marked ``*``), if shown."""
        return next((s.name for s in self.servers if s.local), None)

    def group(self, name: str) -> ClpGroup | None:
        """The group called ``name`` (case-insensitive), or ``None``."""
        return next((g for g in self.groups if g.name.casefold() == name.casefold()), None)


_FRAME = re.compile(r"^\s*=+.*=+\s*$")
_CLUSTER = re.compile(r"^\s*(?:Cluster|クラスタ)\s*[:：]\s*(?P<name>\S.*?)\s*$", re.IGNORECASE)
_SECTION = re.compile(r"^\s*<(?P<name>[^<>]+)>\s*$")
_SECTIONS = {
    "server": "server", "servers": "server", "サーバ": "server", "サーバー": "server",
    "group": "group", "groups": "group", "グループ": "group",
    "monitor": "monitor", "monitors": "monitor", "モニタ": "monitor", "モニター": "monitor",
}
_ENTRY = re.compile(
    r"^(?P<indent>\s*)(?P<local>\*)?(?P<name>[^\s:*.][^\s:]*?)\s*\.*\s*:\s*(?P<rest>.*?)\s*$"
)


class _Node:
    """A mutable entry while the frame is read."""

    def __init__(self, name: str, state: str, detail: str | None, local: bool, indent: int) -> None:
        self.name, self.state, self.detail, self.local, self.indent = name, state, detail, local, indent
        self.children: list[_Node] = []


@guarded("clpstat")
def parse_clpstat(text: str) -> ClusterStatus:
    """Parse the ``clpstat`` frame into servers (with the local marker), groups and monitors."""
    return _parse(text)


def _parse(text: str) -> ClusterStatus:
    cluster: str | None = None
    section: str | None = None
    seen_section = False
    nodes: dict[str, list[_Node]] = {"server": [], "group": [], "monitor": []}
    for line in split_lines(text):
        if is_blank(line) or _FRAME.match(line):
            continue
        marker = _SECTION.match(line)
        if marker:
            section = _SECTIONS.get(marker["name"].strip().casefold())
            if section is None:
                raise FormatProblem(f"unknown section <{marker['name'].strip()}>")
            seen_section = True
            continue
        named = _CLUSTER.match(line)
        if named and section is None:
            cluster = named["name"]
            continue
        entry = _ENTRY.match(line)
        if entry is None or section is None:
            continue  # free text inside the frame (options such as --detail print more)
        parts = re.split(r"\s{2,}", entry["rest"], maxsplit=1)
        state, detail = parts[0], (parts[1] if len(parts) > 1 else "")
        indent = len(entry["indent"]) + (1 if entry["local"] else 0)
        node = _Node(entry["name"], state.strip(), detail.strip() or None, bool(entry["local"]), indent)
        level = nodes[section]
        # Children sit two or more columns deeper; one column of slack absorbs a "*" printed
        # before the margin instead of in it.
        if level and indent >= level[0].indent + 2:
            level[-1].children.append(node)
        elif level and indent < level[0].indent - 1:
            raise FormatProblem(f"entry {node.name!r} is indented less than the first one of <{section}>")
        else:
            level.append(node)
    if cluster is None and not seen_section:
        raise FormatProblem("no 'Cluster :' line and no <server>/<group>/<monitor> section")
    servers = tuple(
        ClpServer(n.name, n.state, n.local, tuple(ClpEntry(c.name, c.state, c.detail) for c in n.children))
        for n in nodes["server"]
    )
    groups = tuple(_group(n) for n in nodes["group"])
    monitors = tuple(ClpEntry(n.name, n.state, n.detail) for n in nodes["monitor"])
    return ClusterStatus(cluster=cluster, servers=servers, groups=groups, monitors=monitors)


def _group(node: _Node) -> ClpGroup:
    current: str | None = None
    resources: list[ClpEntry] = []
    for child in node.children:
        if child.name.casefold() == "current":
            value = child.state.strip()
            current = None if value in ("", "-", "--") else value
        else:
            resources.append(ClpEntry(child.name, child.state, child.detail))
    return ClpGroup(node.name, node.state, current, tuple(resources))


@guarded("clpstat")
def group_owner(text: str, group: str) -> str | None:
    """The ``current :`` server of failover group ``group`` in ``clpstat`` output.

    ``None`` when the group runs nowhere. Raises ``ParseError`` when the output is not clpstat's
    or does not list ``group`` — the caller must then not guess an owner (fail closed).
    """
    status = _parse(text)
    found = status.group(group)
    if found is None:
        known = ", ".join(g.name for g in status.groups) or "none"
        raise FormatProblem(f"group {group!r} is not in the clpstat output (groups: {known})")
    return found.current


group_current = group_owner
"""Alias of :func:`group_owner` (the ``current :`` line is what it reads)."""
