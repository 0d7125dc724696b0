"""Owner of the switchover partition: from evidence, failing closed (decision 7)."""

from __future__ import annotations

from clpbackup.ownership import decide_owner
from clpbackup.transport.types import NodeFacts, VolumeInfo


def facts(*volumes: tuple[str, bool, bool]) -> NodeFacts:
    return NodeFacts(
        hostname="X",
        os_version="6.2.9200",
        os_caption="",
        ps_version="3.0",
        oem_codepage=437,
        volumes=tuple(VolumeInfo(v, p, w) for v, p, w in volumes),
        schedule_start_mode="Auto",
        schedule_state="Running",
        wsb_installed=True,
    )


ATTACHED = facts(("C:", True, True), ("E:", True, True))
DETACHED = facts(("C:", True, True))


def test_the_node_with_the_volume_attached_and_writable_owns_it() -> None:
    d = decide_owner({"a": ATTACHED, "b": DETACHED}, ["E:"])
    assert d.owner == "a" and d.known


def test_both_attached_is_conflicting_evidence() -> None:
    d = decide_owner({"a": ATTACHED, "b": ATTACHED}, ["E:"])
    assert d.owner is None and "both" in d.reasons[0]


def test_neither_attached_is_unknown() -> None:
    assert decide_owner({"a": DETACHED, "b": DETACHED}, ["E:"]).owner is None


def test_present_but_not_writable_is_not_ownership() -> None:
    ro = facts(("E:", True, False))
    assert decide_owner({"a": ro, "b": DETACHED}, ["E:"]).owner is None


def test_clpstat_disagreeing_with_the_volumes_makes_it_unknown() -> None:
    d = decide_owner({"a": ATTACHED, "b": DETACHED}, ["E:"], clpstat_current={"a": "b", "b": "b"})
    assert d.owner is None and any("clpstat" in r for r in d.reasons)


def test_unreachable_peer_needs_clpstat_confirmation() -> None:
    assert decide_owner({"a": ATTACHED, "b": None}, ["E:"]).owner is None
    d = decide_owner({"a": ATTACHED, "b": None}, ["E:"], clpstat_current={"a": "a"})
    assert d.owner == "a"


def test_partial_volume_set_is_unknown() -> None:
    d = decide_owner({"a": facts(("E:", True, True)), "b": facts(("F:", True, True))}, ["E:", "F:"])
    assert d.owner is None
