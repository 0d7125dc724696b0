"""The 24-hour schedule timeline: windows, SCH-2 offsets, the failover slot, SCH-3 overlaps, the SVG."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from clpbackup import timeline as tlm
from clpbackup.plan import Plan
from clpbackup.rules import SCH2_MARGIN_MINUTES, check
from clpbackup.timeline import DAY, Timeline, Window, intersect, segments, svg, timeline

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "examples" / "plans"
SVG_NS = "{http://www.w3.org/2000/svg}"

BASE: dict[str, Any] = {
    "cluster": {"name": "prod-db", "failover_group": "failover1", "switchover_volumes": ["E:"]},
    "nodes": [
        {"name": "node-a", "host": "192.0.2.11", "os": "2012", "home": True},
        {"name": "node-b", "host": "192.0.2.12", "os": "2012"},
    ],
    "connection": {"username": "EXAMPLE\\backup", "password": {"env": "CLPBACKUP_PASSWORD"}},
    "jobs": {
        "local-daily": {
            "scope": "local", "include": ["C:\\data"], "target": "\\\\nas01\\b\\{node}",
            "daily_at": "01:00", "expected_duration": "2h",
        },
        "shared-daily": {
            "scope": "switchover", "include": ["E:"], "target": "\\\\nas01\\b\\{node}-shared",
            "daily_at": "03:00", "expected_duration": "1h",
        },
    },
    "failover_backup": {"job": "shared-daily", "at": "06:00"},
}


def plan_with(*changes: tuple[str, Any]) -> Plan:
    """BASE with changes given as ("jobs.shared-daily.standby_at", value); None removes the key."""
    data = copy.deepcopy(BASE)
    for path, value in changes:
        *parents, last = path.split(".")
        node = data
        for p in parents:
            node = node[p]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return Plan.from_dict(data)


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)  # raises on anything that is not well-formed XML


def titles(root: ET.Element, tag: str = "rect") -> dict[str, ET.Element]:
    """Map the tooltip text of every ``tag`` element to the element."""
    out: dict[str, ET.Element] = {}
    for el in root.iter(SVG_NS + tag):
        t = el.find(SVG_NS + "title")
        if t is not None and t.text:
            out[t.text] = el
    return out


def texts(root: ET.Element) -> list[str]:
    return [el.text or "" for el in root.iter(SVG_NS + "text")]


# -- interval arithmetic --------------------------------------------------------------------------


def test_segments_split_a_window_past_midnight() -> None:
    assert segments(23 * 60, 120) == [(1380, 1440), (0, 60)]
    assert segments(60, 60) == [(60, 120)]
    assert segments(0, DAY) == [(0, DAY)]
    assert segments(22 * 60 + 30, 90) == [(1350, 1440)]  # ends exactly at midnight: one piece


def test_intersect_finds_overlaps_across_midnight() -> None:
    # 23:00 + 2h overlaps 00:30 + 1h from 00:30 to 01:00 (the next morning).
    assert intersect(1380, 120, 30, 60) == [(30, 60)]
    assert intersect(30, 60, 1380, 120) == [(30, 60)]
    # Touching windows do not overlap: the first ends when the second starts.
    assert intersect(60, 60, 120, 60) == []
    assert intersect(180, 60, 360, 60) == []
    # A window inside another, and one that covers the whole day.
    assert intersect(600, 30, 540, 120) == [(600, 630)]
    assert intersect(0, DAY, 1410, 60) == [(0, 30), (1410, 1440)]


@given(
    st.integers(0, DAY - 1), st.integers(1, DAY), st.integers(0, DAY - 1), st.integers(1, DAY)
)
def test_intersect_agrees_with_a_minute_by_minute_count(a: int, da: int, b: int, db: int) -> None:
    minutes_a = {(a + i) % DAY for i in range(da)}
    minutes_b = {(b + i) % DAY for i in range(db)}
    expected = minutes_a & minutes_b
    got = intersect(a, da, b, db)
    covered = {m for lo, hi in got for m in range(lo, hi)}
    assert covered == expected
    assert got == intersect(b, db, a, da)
    assert all(0 <= lo < hi <= DAY for lo, hi in got)


# -- the model ------------------------------------------------------------------------------------


def test_example_plan_windows_offsets_and_slot() -> None:
    tl = timeline(Plan.from_file(PLANS / "ws2012-wsb.yaml"))
    spans = {(w.node, w.job): w.span for w in tl.windows}
    assert spans == {
        ("node-a", "local-daily"): "01:00–03:00",
        ("node-b", "local-daily"): "01:00–03:00",
        ("node-a", "shared-daily"): "03:00–04:00",
        ("node-b", "shared-daily"): "04:15–05:15",  # SCH-2: 03:00 + 1 h + 15 min
    }
    (off,) = tl.offsets
    assert (off.job, off.home, off.standby) == ("shared-daily", "node-a", "node-b")
    assert off.gap == SCH2_MARGIN_MINUTES and off.ok
    assert [w.span for w in tl.failover] == ["06:00–07:00", "06:00–07:00"]
    assert [w.node for w in tl.failover] == ["node-a", "node-b"]
    assert tl.overlaps == ()


def test_windows_use_pinned_standby_at_and_wrap() -> None:
    plan = plan_with(
        ("jobs.shared-daily", None),
        ("jobs.late", {"scope": "switchover", "include": ["E:"], "target": "G:", "daily_at": "22:00",
                       "expected_duration": "2h", "standby_at": "00:30"}),
        ("failover_backup", None),
    )
    tl = timeline(plan)
    late_b = next(w for w in tl.windows if w.node == "node-b" and w.job == "late")
    assert late_b.start == 30 and late_b.span == "00:30–02:30"
    late_a = next(w for w in tl.windows if w.node == "node-a" and w.job == "late")
    assert late_a.segments() == [(1320, 1440)]  # 22:00 + 2 h ends exactly at midnight
    (off,) = tl.offsets
    assert off.after_start == 150 and off.gap == 30 and off.ok


def test_failover_slot_overlaps_are_the_ones_rule_sch3_reports() -> None:
    plan = plan_with(("failover_backup.at", "03:30"))
    tl = timeline(plan)
    got = {(o.node, o.job): o.pieces for o in tl.overlaps}
    assert got == {
        ("node-a", "shared-daily"): ((210, 240),),  # 03:30–04:00 of node-a's 03:00–04:00
        ("node-b", "shared-daily"): ((255, 270),),  # 04:15–04:30 of node-b's 04:15–05:15
    }
    sch3 = {(f.node, f.job) for f in check(plan) if f.rule == "SCH-3"}
    assert sch3 == set(got)


@pytest.mark.parametrize("at", ["00:00", "01:59", "02:15", "04:10", "05:15", "12:00", "23:30"])
def test_overlaps_match_rule_sch3_for_many_slots(at: str) -> None:
    plan = plan_with(("failover_backup.at", at))
    sch3 = {(f.node, f.job) for f in check(plan) if f.rule == "SCH-3"}
    assert {(o.node, o.job) for o in timeline(plan).overlaps} == sch3


def test_failover_now_has_no_slot_and_unscheduled_jobs_are_listed() -> None:
    plan = plan_with(
        ("failover_backup.at", "now"),
        ("jobs.manual", {"scope": "local", "include": ["D:\\x"], "target": "G:"}),
    )
    tl = timeline(plan)
    assert tl.failover == () and tl.failover_at == "now"
    assert tl.unscheduled == ("manual",)
    assert all(w.job != "manual" for w in tl.windows)


# -- the SVG --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(PLANS.glob("*.yaml")), ids=lambda p: p.stem)
def test_svg_of_every_example_is_well_formed_with_a_bar_per_window(path: Path) -> None:
    plan = Plan.from_file(path)
    root = parse(svg(plan))
    assert root.tag == SVG_NS + "svg" and root.get("role") == "img"
    tips = titles(root)
    for w in timeline(plan).windows:
        tip = f"{w.node}: {w.job} ({w.scope}) daily {w.span}, expected {w.duration} min"
        assert tip in tips, tip
    assert plan.timeline_svg() == svg(plan)


def test_svg_geometry_places_the_standby_run_later() -> None:
    root = parse(svg(Plan.from_file(PLANS / "ws2012-wsb.yaml")))
    tips = titles(root)
    home = tips["node-a: shared-daily (switchover) daily 03:00–04:00, expected 60 min"]
    standby = tips["node-b: shared-daily (switchover) daily 04:15–05:15, expected 60 min"]
    x_home, x_standby = float(home.get("x", "")), float(standby.get("x", ""))
    # Trimmed to the hours that hold a run: 01:00 (local-daily) to 07:00 (the failover slot's end).
    scale = tlm._PLOT / (420 - 60)
    assert x_home == pytest.approx(tlm._LEFT + (180 - 60) * scale, abs=0.1)
    assert x_standby == pytest.approx(tlm._LEFT + (255 - 60) * scale, abs=0.1)
    assert float(standby.get("width", "")) == pytest.approx(60 * scale, abs=0.2)
    # The SCH-2 reference (node-a's run) is drawn on node-b's row, and the offset is written out.
    assert "node-a's run of shared-daily: 03:00–04:00 (reference for SCH-2)" in tips
    assert any("SCH-2: 15 min after node-a's run" in t for t in texts(root))
    assert any(t.endswith("SCH-3 ok") for t in texts(root))


def test_svg_wrapping_window_is_two_bars() -> None:
    root = parse(svg(Plan.from_file(PLANS / "ws2003-ntbackup.yaml")))
    tip = "fs-01: local-daily (local) daily 23:00–01:00, expected 120 min"
    bars = [
        el for el in root.iter(SVG_NS + "rect")
        if (t := el.find(SVG_NS + "title")) is not None and t.text == tip
    ]
    xs = sorted(float(b.get("x", "")) for b in bars)
    assert len(bars) == 2
    assert xs[0] == pytest.approx(tlm._LEFT, abs=0.1)  # 00:00–01:00
    assert xs[1] == pytest.approx(tlm._LEFT + 1380 * tlm._PLOT / DAY, abs=0.1)  # 23:00–24:00


def test_svg_marks_an_sch3_overlap_with_text_and_on_both_rows() -> None:
    root = parse(svg(plan_with(("failover_backup.at", "03:30"))))
    tips = titles(root)
    overlap_marks = [t for t in tips if t.startswith("SCH-3: the failover slot overlaps")]
    assert overlap_marks
    marks = [
        el for el in root.iter(SVG_NS + "rect")
        if (t := el.find(SVG_NS + "title")) is not None and (t.text or "").startswith("SCH-3:")
    ]
    # one piece per node, each drawn on the job's row and the slot's row
    assert len(marks) == 4
    assert sum("⚠ SCH-3 overlap: shared-daily" in t for t in texts(root)) == 2


def test_svg_says_when_sch2_is_violated() -> None:
    plan = plan_with(("jobs.shared-daily.standby_at", "03:45"))
    assert any(f.rule == "SCH-2" and f.severity == "error" for f in check(plan))
    joined = " ".join(texts(parse(svg(plan))))
    assert "SCH-2 VIOLATED: 15 min before node-a's run ends" in joined


def test_svg_failover_now_and_unscheduled_are_written_out() -> None:
    plan = plan_with(
        ("failover_backup.at", "now"),
        ("jobs.manual", {"scope": "local", "include": ["D:\\x"], "target": "G:"}),
    )
    joined = " ".join(texts(parse(svg(plan))))
    assert "shared-daily: at once after a failover (at: now), no fixed slot" in joined
    assert "no daily run (no daily_at): manual" in joined


def test_svg_legend_names_every_colour_it_draws() -> None:
    joined = texts(parse(svg(Plan.from_file(PLANS / "ws2012-wsb.yaml"))))
    for words in ("local job", "switchover job", "home run (SCH-2 reference)", "failover slot (FO-2)"):
        assert words in joined
    # No overlap in the example: the SCH-3 swatch would explain nothing.
    assert "⚠ SCH-3 overlap" not in joined
    overlapping = texts(parse(svg(plan_with(("failover_backup.at", "03:30")))))
    assert "⚠ SCH-3 overlap" in overlapping


def test_axis_draws_only_the_hours_that_hold_something() -> None:
    # 01:00-03:00, 03:00-04:00 / 04:15-05:15 on the standby, failover slot 06:00-07:00
    ax = tlm.axis(timeline(plan_with()))
    assert (ax.lo, ax.hi, ax.why_whole_day) == (60, 420, None)
    root = parse(svg(plan_with()))
    hours = [t for t in texts(root) if re.fullmatch(r"\d\d:00", t)]
    assert hours[0] == "01:00" and hours[-1] == "07:00" and "00:00" not in hours and "12:00" not in hours
    assert "01:00–07:00, the hours that hold a run" in (root.get("aria-label") or "")
    # Ends that are not on the hour round outwards.
    ax = tlm.axis(timeline(plan_with(("jobs.local-daily.daily_at", "01:30"),
                                     ("failover_backup.at", "05:40"))))
    assert (ax.lo, ax.hi) == (60, 420)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ((("jobs.local-daily.daily_at", "23:30"),), "local-daily on node-a (23:30–01:30) runs past midnight"),
        ((("failover_backup.at", "23:30"),),
         "the failover slot of shared-daily (23:30–00:30) runs past midnight"),
        ((("failover_backup.at", "22:00"),), "the runs spread over 22 hours of the day"),
    ],
)
def test_axis_draws_the_whole_day_and_says_why(changes: tuple[tuple[str, Any], ...], why: str) -> None:
    ax = tlm.axis(timeline(plan_with(*changes)))
    assert ax.whole_day and ax.why_whole_day == why
    assert f"the whole day is drawn: {why}" in texts(parse(svg(plan_with(*changes))))


def test_svg_escapes_every_value() -> None:
    hostile = "<script>alert('x')</script>&\x1b|"
    tl = Timeline(
        cluster=hostile,
        nodes=(hostile, "b"),
        home=hostile,
        windows=(
            Window(hostile, hostile, "daily", "local", 60, 30),
            Window("b", hostile, "daily", "local", 60, 30),
        ),
        jobs=(hostile,),
    )
    text = svg(tl)
    root = parse(text)  # well-formed although the values hold markup and a control character
    assert not list(root.iter(SVG_NS + "script")) and not list(root.iter("script"))
    assert "<script>" not in text and "\x1b" not in text
    assert any("<script>alert('x')</script>&\ufffd|" in t for t in texts(root))


def test_svg_is_deterministic() -> None:
    plan = Plan.from_file(PLANS / "ws2012-ja.yaml")
    assert svg(plan) == svg(plan)
    assert not re.search(r"id=", svg(plan))  # no element ids: many timelines can share one page


# -- clpbackup render --timeline ------------------------------------------------------------------


def test_cli_render_writes_the_timeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from clpbackup.cli import main

    out = tmp_path / "timeline.svg"
    code = main(["render", str(PLANS / "ws2012-wsb.yaml"), "--timeline", str(out)])
    captured = capsys.readouterr()
    assert code == 0
    assert out.read_text(encoding="utf-8") == Plan.from_file(PLANS / "ws2012-wsb.yaml").timeline_svg()
    assert f"wrote {out} (schedule timeline)" in captured.err
    assert "=== node-a" in captured.out  # the rendered files are still shown


def test_cli_render_timeline_with_out_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from clpbackup.cli import main

    svg_path = tmp_path / "t.svg"
    code = main(["render", str(PLANS / "ws2003-ntbackup.yaml"), "--out", str(tmp_path / "files"),
                 "--timeline", str(svg_path)])
    assert code == 0 and f"wrote {svg_path} (schedule timeline)" in capsys.readouterr().out
    parse(svg_path.read_text(encoding="utf-8"))
    svg_path.unlink()
    plan = str(PLANS / "ws2003-ntbackup.yaml")
    code = main(["render", plan, "--format", "json", "--timeline", str(svg_path)])
    captured = capsys.readouterr()
    assert code == 0 and svg_path.exists()
    assert "nodes" in json.loads(captured.out)  # stdout stays one JSON document


def test_cli_render_timeline_refused_plan_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from clpbackup.cli import main

    data = copy.deepcopy(BASE)
    data["failover_backup"]["at"] = "03:30"  # SCH-3 error
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "t.svg"
    assert main(["render", str(plan_file), "--timeline", str(out)]) == 1
    assert "SCH-3" in capsys.readouterr().err
    assert not out.exists()


def test_cli_render_timeline_unwritable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from clpbackup.cli import main

    out = tmp_path / "missing-dir" / "t.svg"
    assert main(["render", str(PLANS / "ws2012-wsb.yaml"), "--timeline", str(out)]) == 1
    assert f"cannot write {out}" in capsys.readouterr().err


# -- the weekly drill (DRILL-2) -----------------------------------------------------------------------


def with_drill(at: str, day: str = "SUN", *changes: tuple[str, Any]) -> Plan:
    return plan_with(("drill", {"weekly": {"day": day, "at": at}}), *changes)


def test_weekly_drill_slots_on_both_nodes_labelled_with_their_day() -> None:
    tl = timeline(with_drill("07:30", "wed"))
    got = [(w.node, w.job, w.kind, w.day, w.span, w.label) for w in tl.drills]
    assert got == [
        ("node-a", "local-daily", "drill", "WED", "07:30–07:45", "drill local-daily (WED)"),
        ("node-b", "local-daily", "drill", "WED", "07:30–07:45", "drill local-daily (WED)"),
        ("node-a", "shared-daily", "drill", "WED", "07:45–08:00", "drill shared-daily (WED)"),
        ("node-b", "shared-daily", "drill", "WED", "07:45–08:00", "drill shared-daily (WED)"),
    ]
    assert tl.drilled == ("local-daily", "shared-daily") and tl.drill_day == "WED"
    assert tl.drill_overlaps == ()
    assert all(w.kind == "daily" and w.day is None for w in tl.windows)  # the drill is no daily run
    assert timeline(plan_with()).drills == ()


def test_drill_jobs_limit_the_slots() -> None:
    plan = plan_with(("drill", {"weekly": {"day": "SAT", "at": "08:00"}, "jobs": ["shared-daily"]}))
    tl = timeline(plan)
    assert tl.drilled == ("shared-daily",)
    assert {w.span for w in tl.drills} == {"08:00–08:15"}


def test_drill_overlaps_are_the_ones_rule_drill2_reports() -> None:
    # 04:50: local-daily 04:50–05:05 and shared-daily 05:05–05:20 meet node-b's 04:15–05:15
    plan = with_drill("04:50")
    tl = timeline(plan)
    got = {(o.node, o.job, o.other, o.pieces) for o in tl.drill_overlaps}
    assert got == {
        ("node-b", "local-daily", "shared-daily", ((290, 305),)),
        ("node-b", "shared-daily", "shared-daily", ((305, 315),)),
    }
    (first, _) = sorted(tl.drill_overlaps, key=lambda o: o.drill.start)
    assert first.describe() == (
        "DRILL-2: the weekly drill of local-daily (SUN 04:50–05:05) overlaps shared-daily on node-b "
        "(04:15–05:15) during 04:50–05:05"
    )
    drill2 = {(f.node, f.job) for f in check(plan) if f.rule == "DRILL-2" and f.severity == "error"}
    assert drill2 == {(o.node, o.job) for o in tl.drill_overlaps}


@pytest.mark.parametrize(
    "at", ["00:30", "01:00", "02:50", "03:55", "05:15", "05:50", "06:40", "12:00", "23:50"]
)
def test_drill_overlaps_match_rule_drill2_for_many_times(at: str) -> None:
    plan = with_drill(at)
    tl = timeline(plan)
    # The rule names each job once (the first window it meets); the timeline marks every one.
    drill2 = {(f.node, f.job) for f in check(plan) if f.rule == "DRILL-2" and f.severity == "error"}
    assert {job for _, job in drill2} == {o.job for o in tl.drill_overlaps}
    assert drill2 <= {(o.node, o.job) for o in tl.drill_overlaps}


def test_a_drill_in_the_failover_slot_is_an_overlap_with_it() -> None:
    plan = with_drill("06:45")
    tl = timeline(plan)
    assert {(o.node, o.job, o.other) for o in tl.drill_overlaps} == {
        ("node-a", "local-daily", "the failover slot of shared-daily"),
        ("node-b", "local-daily", "the failover slot of shared-daily"),
    }
    assert any(
        f.rule == "DRILL-2" and f.job == "local-daily" and "failover backup" in f.message for f in check(plan)
    )


def drill_marks(root: ET.Element) -> dict[str, ET.Element]:
    return {t: el for t, el in titles(root).items() if "weekly drill of" in t and not t.startswith("DRILL-2")}


def test_svg_draws_each_drill_slot_on_its_own_row_with_its_day() -> None:
    plan = with_drill("07:30")
    root = parse(svg(plan))
    marks = drill_marks(root)
    assert set(marks) == {
        f"{n}: weekly drill of {j} every SUN {span}, one day a week (DRILL-2)"
        for n in ("node-a", "node-b")
        for j, span in (("local-daily", "07:30–07:45"), ("shared-daily", "07:45–08:00"))
    }
    joined = texts(root)
    assert joined.count("drill local-daily (SUN)") == 2 and joined.count("drill shared-daily (SUN)") == 2
    assert joined.count("07:30–07:45 on SUN only  DRILL-2 ok") == 2
    assert "weekly drill (DRILL-2)" in joined
    assert "⚠ DRILL-2 overlap" not in joined
    assert "and the weekly drill on SUN" in (root.get("aria-label") or "")
    # Its own row, below the failover slot: not on a daily row, and distinct from the daily bars.
    daily = titles(root)["node-a: local-daily (local) daily 01:00–03:00, expected 120 min"]
    slot = marks["node-a: weekly drill of local-daily every SUN 07:30–07:45, one day a week (DRILL-2)"]
    failover_a = min(
        float(el.get("y", "")) for el in root.iter(SVG_NS + "rect")
        if (t := el.find(SVG_NS + "title")) is not None and (t.text or "").startswith("failover backup of")
    )
    assert float(daily.get("y", "")) < failover_a < float(slot.get("y", "")) < failover_a + 3 * tlm._ROW
    assert slot.get("fill") != daily.get("fill")
    # The axis reaches the drill's end (08:00): 01:00–08:00.
    ax = tlm.axis(timeline(plan))
    assert (ax.lo, ax.hi) == (60, 480)
    assert float(slot.get("x", "")) == pytest.approx(ax.x(450), abs=0.1)
    assert float(slot.get("width", "")) == pytest.approx(ax.x(465) - ax.x(450), abs=0.2)
    # The svg is taller by the two drill rows per node.
    assert float(root.get("height", "")) == float(parse(svg(plan_with())).get("height", "")) + 4 * tlm._ROW


def test_svg_marks_a_drill2_overlap_on_the_drill_row_and_the_row_it_meets() -> None:
    root = parse(svg(with_drill("04:50")))
    marks = [
        el for el in root.iter(SVG_NS + "rect")
        if (t := el.find(SVG_NS + "title")) is not None and (t.text or "").startswith("DRILL-2:")
    ]
    assert len(marks) == 4  # two overlaps on node-b, each on the drill's row and on shared-daily's
    tips = titles(root)
    shared_b = tips["node-b: shared-daily (switchover) daily 04:15–05:15, expected 60 min"]
    ys = sorted({float(m.get("y", "")) for m in marks})
    assert float(shared_b.get("y", "")) - 3 in ys and len(ys) == 3
    joined = texts(root)
    assert "04:50–05:05 on SUN only  ⚠ DRILL-2 overlap: shared-daily" in joined
    assert "04:50–05:05 on SUN only  DRILL-2 ok" in joined  # node-a: nothing runs then
    assert "⚠ DRILL-2 overlap" in joined and "⚠ SCH-3 overlap" not in joined


def test_svg_whole_day_when_a_drill_runs_past_midnight_and_legend_fits() -> None:
    plan = with_drill("23:50", "SUN", ("failover_backup.at", "03:30"))
    why = "the weekly drill of local-daily (SUN) (23:50–00:05) runs past midnight"
    assert tlm.axis(timeline(plan)).why_whole_day == why
    root = parse(svg(plan))
    assert f"the whole day is drawn: {why}" in texts(root)
    # Every legend entry (SCH-3 and drill overlaps, the drill) stays inside the picture.
    legend = tlm._legend(timeline(plan), 0)
    assert {t for *_, t in legend} >= {"weekly drill (DRILL-2)", "⚠ SCH-3 overlap"}
    assert all(x + 18 + len(t) * 6.2 <= tlm._W - tlm._RIGHT for x, _, _, t in legend)
    assert len({y for _, y, _, _ in legend}) == 2


def test_markdown_report_lists_the_drill_slots_and_their_overlaps() -> None:
    from clpbackup.report import _timeline_lines

    lines = _timeline_lines(with_drill("04:50"))
    assert "node-a: weekly drill of local-daily every SUN 04:50–05:05 (DRILL-2)" in lines
    assert "node-b: weekly drill of shared-daily every SUN 05:05–05:20 (DRILL-2)" in lines
    assert (
        "DRILL-2: the weekly drill of shared-daily (SUN 05:05–05:20) overlaps shared-daily on node-b "
        "(04:15–05:15) during 05:05–05:15"
    ) in lines
    assert not any("drill" in line for line in _timeline_lines(plan_with()))
