"""Who owns the switchover partition? Decided from evidence, failing closed (ARCHITECTURE decision 7).

Evidence per node: each switchover volume present and writable (the inspect probe), and where
CLUSTERPRO's ``clpstat`` answered, the server it names as the failover group's ``current``.
When the evidence is missing or conflicting the owner is unknown and no switchover backup starts.
Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from clpbackup.transport.types import NodeFacts


@dataclass(frozen=True)
class OwnerDecision:
    """The owner of the switchover volumes, or ``None`` with the reasons it is unknown."""

    owner: str | None
    reasons: tuple[str, ...] = ()
    evidence: dict[str, str] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        """True when one node owns every switchover volume."""
        return self.owner is not None


def decide_owner(
    facts: Mapping[str, NodeFacts | None],
    volumes: Sequence[str],
    *,
    clpstat_current: Mapping[str, str | None] | None = None,
    not_asked: Sequence[str] = (),
) -> OwnerDecision:
    """Decide the owner from both nodes' facts.

    ``facts`` maps node name → facts (``None`` when the node could not be read). ``clpstat_current``
    maps node name → the server clpstat on that node names as the group's current one (``None``
    where clpstat is absent or did not answer). ``not_asked`` names nodes that were deliberately not
    read (``status(node=...)``): missing evidence as well, but said as "not asked", not as a failure.
    """
    if not volumes:
        return OwnerDecision(None, ("the plan names no switchover volume",))
    evidence: dict[str, str] = {}
    reasons: list[str] = []
    holders: list[str] = []
    unreachable: list[str] = []
    for node, f in facts.items():
        if f is None:
            evidence[node] = "not asked" if node in not_asked else "unreachable"
            unreachable.append(node)
            continue
        states = []
        full = True
        partial = False
        for vol in volumes:
            v = f.volume(vol)
            if v is not None and v.present and v.writable:
                states.append(f"{vol} attached")
                partial = True
            elif v is not None and v.present:
                states.append(f"{vol} present but not writable")
                full = False
            else:
                states.append(f"{vol} not attached")
                full = False
        evidence[node] = ", ".join(states)
        if full:
            holders.append(node)
        elif partial:
            reasons.append(f"{node} has only some of the switchover volumes ({evidence[node]})")
    if clpstat_current:
        named = {v.lower() for v in clpstat_current.values() if v}
        if len(named) > 1:
            reasons.append(
                "clpstat names different current servers on the two nodes: " + ", ".join(sorted(named))
            )
        elif named:
            current = next(iter(named))
            evidence["clpstat"] = f"current: {current}"
            if holders and all(h.lower() != current for h in holders):
                reasons.append(
                    f"clpstat says {current} runs the group but the volumes are attached on {holders[0]}"
                )
    if unreachable:
        # After a real failover the old node is often down. One node's own evidence (volumes
        # attached and writable) is then enough only when CLUSTERPRO itself (clpstat on that
        # node) confirms it runs the group: two independent sources, still failing closed.
        confirmed = bool(
            clpstat_current
            and len(holders) == 1
            and (clpstat_current.get(holders[0]) or "").lower() == holders[0].lower()
        )
        if not confirmed:
            asked = [n for n in unreachable if n not in not_asked]
            skipped = [n for n in unreachable if n in not_asked]
            if asked:
                reasons.append(
                    f"{', '.join(asked)} could not be read and clpstat did not confirm the other node "
                    "as the group's current server"
                )
            if skipped:
                reasons.append(
                    f"{', '.join(skipped)} was not asked and clpstat did not confirm the other node "
                    "as the group's current server: the owner check needs both nodes"
                )
    if len(holders) > 1:
        reasons.append("both nodes report the switchover volumes attached and writable")
    if not holders and not reasons:
        reasons.append("neither node has the switchover volumes attached")
    if reasons or len(holders) != 1:
        return OwnerDecision(None, tuple(reasons), evidence)
    return OwnerDecision(holders[0], (), evidence)
