"""Tests of clpbackup.parsers.clpstat against the fixtures (the clpstat frame; en-US, ja-JP)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clpbackup.errors import ParseError
from clpbackup.parsers.clpstat import ClusterStatus, group_owner, parse_clpstat
from tests.helpers.parsers import all_fixtures, fixture_text, mutated


def _status(where: str, name: str) -> ClusterStatus:
    return parse_clpstat(fixture_text("clpstat", where, name))


def test_2012_en_full_frame() -> None:
    status = _status("2012-en-US", "group-on-node-a.txt")
    assert status.cluster == "prod-db"
    assert [(s.name, s.state, s.local) for s in status.servers] == [
        ("node-a", "Online", True),
        ("node-b", "Online", False),
    ]
    assert status.local_server == "node-a"
    assert [(h.name, h.state, h.detail) for h in status.servers[0].heartbeats] == [
        ("lankhb1", "Normal", "LAN Heartbeat"),
        ("lankhb2", "Normal", "LAN Heartbeat"),
    ]
    failover1 = status.group("FAILOVER1")
    assert failover1 is not None and failover1.online
    assert failover1.current == "node-a"
    assert [r.name for r in failover1.resources] == ["fip1", "sd1", "script1"]
    management = status.group("ManagementGroup")
    assert management is not None and management.current == "node-b"
    assert [m.name for m in status.monitors] == ["fipw1", "sdw1", "userw"]


def test_2008r2_ja_failed_over() -> None:
    status = _status("2008r2-ja-JP", "failed-over-to-node-b.txt")
    assert [(s.name, s.online, s.local) for s in status.servers] == [
        ("node-a", False, False),
        ("node-b", True, True),
    ]
    assert status.servers[0].heartbeats[0].detail == "LAN ハートビート"
    text = fixture_text("clpstat", "2008r2-ja-JP", "failed-over-to-node-b.txt")
    assert group_owner(text, "failover1") == "node-b"


def test_2003_en_stopped_group_and_pending_state() -> None:
    status = _status("2003-en-US", "group-stopped.txt")
    stopped = status.group("failover1")
    assert stopped is not None and stopped.current is None and stopped.state == "Offline"
    pending = status.group("failover2")
    assert pending is not None and pending.state == "Online Pending" and not pending.online
    assert pending.current == "node-a"
    assert status.servers[1].state == "Caution"
    assert [(m.name, m.state) for m in status.monitors] == [("sdw1", "Normal"), ("userw", "Warning")]


def test_2012_ja_japanese_cluster_name() -> None:
    status = _status("2012-ja-JP", "group-on-node-b.txt")
    assert status.cluster == "本番DB" and status.local_server == "node-b"
    assert group_owner(fixture_text("clpstat", "2012-ja-JP", "group-on-node-b.txt"), "failover1") == "node-b"


def test_star_one_column_off_is_still_a_server() -> None:
    text = " <server>\n    node-a ....: Online\n    *node-b ...: Online\n      lankhb1 : Normal\n"
    status = parse_clpstat(text)
    assert [(s.name, s.local) for s in status.servers] == [("node-a", False), ("node-b", True)]
    assert [h.name for h in status.servers[1].heartbeats] == ["lankhb1"]


def test_group_owner_unknown_group_raises() -> None:
    text = fixture_text("clpstat", "2012-en-US", "group-on-node-a.txt")
    with pytest.raises(ParseError, match="'failover9' is not in the clpstat output"):
        group_owner(text, "failover9")


def test_service_down_raises() -> None:
    with pytest.raises(ParseError) as info:
        parse_clpstat(fixture_text("clpstat", "2012-en-US", "service-down.txt"))
    assert info.value.tool == "clpstat"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "clpstat is not recognized as an internal or external command\r\n",
        "  <server>\n    node-a : Online\n  <bogus>\n",
        "  <group>\n      failover1 : Online\n  g2 : Online\n",
    ],
)
def test_bad_text_raises(text: str) -> None:
    with pytest.raises(ParseError):
        parse_clpstat(text)


FRAMES = [f for f in all_fixtures("clpstat") if f[1] != "service-down.txt"]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_mutated_gives_result_or_parse_error(data: st.DataObject) -> None:
    where, name = data.draw(st.sampled_from(FRAMES))
    text = data.draw(mutated(fixture_text("clpstat", where, name)))
    try:
        status = parse_clpstat(text)
        group_owner(text, "failover1")
    except ParseError:
        return
    assert all(s.name for s in status.servers)


@given(st.text(max_size=200), st.text(max_size=10))
def test_random_text_gives_result_or_parse_error(text: str, group: str) -> None:
    try:
        group_owner(text, group)
    except ParseError:
        pass


def test_group_current_is_group_owner() -> None:
    from clpbackup.parsers.clpstat import group_current

    text = fixture_text("clpstat", "2012-en-US", "group-on-node-a.txt")
    assert group_current(text, "failover1") == "node-a"
    assert group_current(text, "ManagementGroup") == "node-b"
