"""The 24-hour schedule timeline of a plan, computed and drawn as SVG (pure, no plotting library).

:func:`timeline` computes, for every node, the daily window of every job (start + expected
duration, wrapping past midnight), the standby offset of each switchover job (SCH-2: the non-home
node starts after the home node's run is expected to end), and the failover slot (SCH-3:
``failover_backup.at`` + the job's expected duration) with every overlap between that slot and a
daily window. :func:`svg` draws it; ``Plan.timeline_svg()`` and the plan's notebook view use it, and
``clpbackup render PLAN --timeline out.svg`` writes it.

The weekly drill (DRILL-2) runs one day a week, not daily: its slots (one per drilled job,
:data:`~clpbackup.rules.DRILL_SLOT_MINUTES` each, at the same times on both nodes) are drawn on
rows of their own, labelled with the day, and every overlap with a daily window or the failover slot
on the node is marked, the ones rule DRILL-2 refuses (a daily window runs on that day too).

Times are the nodes' local clock times, as the schedulers on the nodes read them. The failover slot
is drawn on both nodes because the one-shot runs on whichever node owns the switchover partition
after the failover (FO-2); the SCH-3 check of :mod:`clpbackup.rules` likewise compares it with the
windows of both nodes.

No I/O: :func:`svg` returns text; the caller writes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Literal

from clpbackup.plan import format_hhmm, parse_hhmm
from clpbackup.rules import DRILL_SLOT_MINUTES, SCH2_MARGIN_MINUTES, standby_start, weekly_drill_starts

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.plan import Plan

__all__ = [
    "DAY",
    "Axis",
    "DrillOverlap",
    "Overlap",
    "StandbyOffset",
    "Timeline",
    "Window",
    "axis",
    "intersect",
    "segments",
    "svg",
    "timeline",
]

DAY = 24 * 60
"""Minutes in a day."""

Scope = Literal["local", "switchover"]


def segments(start: int, duration: int) -> list[tuple[int, int]]:
    """The pieces of the daily window ``[start, start + duration)`` inside one day ``[0, 1440]``.

    A window that runs past midnight comes back as two pieces: ``(1380, 1440)`` and ``(0, 60)``
    for 23:00 + 2 h.
    """
    start %= DAY
    duration = max(0, min(duration, DAY))
    end = start + duration
    if end <= DAY:
        return [(start, end)] if duration else []
    return [(start, DAY), (0, end - DAY)]


def intersect(a: int, da: int, b: int, db: int) -> list[tuple[int, int]]:
    """Where the daily windows ``[a, a+da)`` and ``[b, b+db)`` overlap, as pieces of one day (sorted).

    Both windows repeat every day, so a window that wraps past midnight overlaps one that starts
    early the next morning. Empty when they do not overlap.
    """
    a %= DAY
    b %= DAY
    pieces: list[tuple[int, int]] = []
    for shift in (-DAY, 0, DAY):
        lo = max(a, b + shift)
        hi = min(a + da, b + shift + db)
        if lo < hi:
            pieces.extend(segments(lo, hi - lo))
    pieces.sort()
    merged: list[tuple[int, int]] = []
    for lo, hi in pieces:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


@dataclass(frozen=True)
class Window:
    """A time slot of one job on one node: its daily run, or the failover one-shot's slot."""

    node: str
    job: str
    kind: Literal["daily", "failover", "drill"]
    scope: Scope
    start: int
    duration: int
    day: str | None = None
    """The day of the week of a weekly slot (the drill's, DRILL-2); ``None``: every day."""

    @property
    def end(self) -> int:
        """Minute the run is expected to end (may exceed 1440: it ends the next day)."""
        return self.start + self.duration

    @property
    def span(self) -> str:
        """``03:00–04:00``."""
        return f"{format_hhmm(self.start)}–{format_hhmm(self.end)}"

    def segments(self) -> list[tuple[int, int]]:
        """The window's pieces inside one day (two when it runs past midnight)."""
        return segments(self.start, self.duration)

    @property
    def label(self) -> str:
        """How the picture and the text name the slot: ``drill local-daily (SUN)`` for a weekly one."""
        if self.kind == "drill":
            return f"drill {self.job} ({self.day})"
        if self.kind == "failover":
            return f"failover {self.job}"
        return self.job


@dataclass(frozen=True)
class StandbyOffset:
    """SCH-2 for one switchover job: when the standby node starts, relative to the home node's run."""

    job: str
    home: str
    standby: str
    home_start: int
    duration: int
    standby_start: int

    @property
    def after_start(self) -> int:
        """Minutes from the home node's start to the standby's start (modulo a day)."""
        return (self.standby_start - self.home_start) % DAY

    @property
    def gap(self) -> int:
        """Minutes between the home node's expected end and the standby's start (negative: before)."""
        return self.after_start - self.duration

    @property
    def ok(self) -> bool:
        """True when the standby starts at least the SCH-2 margin after the home run's expected end."""
        return self.gap >= SCH2_MARGIN_MINUTES

    def describe(self) -> str:
        """One line for labels and tooltips."""
        when = f"{self.gap} min after" if self.gap >= 0 else f"{-self.gap} min before"
        verdict = "" if self.ok else f" — SCH-2 wants at least {SCH2_MARGIN_MINUTES} min after"
        return (
            f"SCH-2: {self.job} starts on {self.standby} at {format_hhmm(self.standby_start)}, "
            f"{when} {self.home}'s run is expected to end ({format_hhmm(self.home_start + self.duration)})"
            + verdict
        )


@dataclass(frozen=True)
class Overlap:
    """SCH-3: the failover slot overlaps a daily window on a node, during ``pieces``."""

    node: str
    job: str
    window: Window
    pieces: tuple[tuple[int, int], ...]

    def describe(self) -> str:
        """One line for labels and tooltips."""
        spans = ", ".join(f"{format_hhmm(a)}–{format_hhmm(b)}" for a, b in self.pieces)
        return (
            f"SCH-3: the failover slot overlaps {self.job} on {self.node} ({self.window.span}) during {spans}"
        )


@dataclass(frozen=True)
class DrillOverlap:
    """DRILL-2: a weekly drill slot overlaps, on its day, a daily window or the failover slot on a node."""

    node: str
    drill: Window
    window: Window
    pieces: tuple[tuple[int, int], ...]

    @property
    def job(self) -> str:
        """The drilled job."""
        return self.drill.job

    @property
    def other(self) -> str:
        """What the drill meets: a job's daily run, or the failover slot."""
        if self.window.kind == "failover":
            return f"the failover slot of {self.window.job}"
        return self.window.job

    def describe(self) -> str:
        """One line for labels and tooltips."""
        spans = ", ".join(f"{format_hhmm(a)}–{format_hhmm(b)}" for a, b in self.pieces)
        return (
            f"DRILL-2: the weekly drill of {self.job} ({self.drill.day} {self.drill.span}) overlaps "
            f"{self.other} on {self.node} ({self.window.span}) during {spans}"
        )


@dataclass(frozen=True)
class Timeline:
    """Everything the timeline shows, per node in plan order."""

    cluster: str
    nodes: tuple[str, ...]
    home: str
    windows: tuple[Window, ...]
    failover: tuple[Window, ...] = ()
    failover_job: str | None = None
    failover_at: str | None = None
    offsets: tuple[StandbyOffset, ...] = ()
    overlaps: tuple[Overlap, ...] = ()
    unscheduled: tuple[str, ...] = ()
    jobs: tuple[str, ...] = field(default=())
    drills: tuple[Window, ...] = ()
    drill_day: str | None = None
    drill_overlaps: tuple[DrillOverlap, ...] = ()

    @property
    def drilled(self) -> tuple[str, ...]:
        """The jobs the weekly drill checks, in plan order (one row each)."""
        return tuple(dict.fromkeys(w.job for w in self.drills))

    def drills_on(self, node: str) -> list[Window]:
        """The weekly drill slots on ``node``, in plan job order."""
        return [w for w in self.drills if w.node == node]

    def drill_overlaps_on(self, node: str) -> list[DrillOverlap]:
        """DRILL-2 overlaps on ``node``."""
        return [o for o in self.drill_overlaps if o.node == node]

    def windows_of(self, node: str) -> list[Window]:
        """The daily windows on ``node``, in plan job order."""
        return [w for w in self.windows if w.node == node]

    def failover_on(self, node: str) -> Window | None:
        """The failover slot drawn on ``node`` (``None`` without a fixed ``failover_backup.at``)."""
        return next((w for w in self.failover if w.node == node), None)

    def overlaps_on(self, node: str) -> list[Overlap]:
        """SCH-3 overlaps on ``node``."""
        return [o for o in self.overlaps if o.node == node]


def timeline(plan: Plan) -> Timeline:
    """Compute the timeline of ``plan``: daily windows, SCH-2 offsets, the failover slot, SCH-3 overlaps,
    and the weekly drill's slots with their DRILL-2 overlaps."""
    home = plan.home_node
    windows: list[Window] = []
    offsets: list[StandbyOffset] = []
    unscheduled: list[str] = []
    for name, job in plan.jobs.items():
        if job.daily_at is None:
            unscheduled.append(name)
            continue
        for node in plan.nodes:
            # Same start function as render and rules, so the picture shows what is deployed.
            start = parse_hhmm(job.daily_at if node.home else standby_start(plan, name))
            windows.append(Window(node.name, name, "daily", job.scope, start, job.duration_minutes))
        if job.scope == "switchover":
            offsets.append(
                StandbyOffset(
                    name,
                    home.name,
                    plan.standby_node.name,
                    parse_hhmm(job.daily_at),
                    job.duration_minutes,
                    parse_hhmm(standby_start(plan, name)),
                )
            )
    failover: list[Window] = []
    overlaps: list[Overlap] = []
    fb = plan.failover_backup
    if fb is not None and fb.at != "now":
        fjob = plan.jobs[fb.job]
        for node in plan.nodes:
            slot = Window(node.name, fb.job, "failover", fjob.scope, parse_hhmm(fb.at), fjob.duration_minutes)
            failover.append(slot)
            for w in windows:
                if w.node != node.name:
                    continue
                pieces = intersect(slot.start, slot.duration, w.start, w.duration)
                if pieces:
                    overlaps.append(Overlap(node.name, w.job, w, tuple(pieces)))
    drills: list[Window] = []
    drill_overlaps: list[DrillOverlap] = []
    day = plan.drill.weekly.day if plan.drill is not None else None
    # Same starts as render and rule DRILL-2: the same times on both nodes (JOB-1).
    for name, at in weekly_drill_starts(plan).items():
        for node in plan.nodes:
            slot = Window(
                node.name, name, "drill", plan.jobs[name].scope, parse_hhmm(at), DRILL_SLOT_MINUTES, day
            )
            drills.append(slot)
            # Daily windows run on the drill's day too; the failover slot may fall on it.
            for w in [*windows, *failover]:
                if w.node != node.name:
                    continue
                pieces = intersect(slot.start, slot.duration, w.start, w.duration)
                if pieces:
                    drill_overlaps.append(DrillOverlap(node.name, slot, w, tuple(pieces)))
    return Timeline(
        cluster=plan.cluster.name,
        nodes=tuple(n.name for n in plan.nodes),
        home=home.name,
        windows=tuple(windows),
        failover=tuple(failover),
        failover_job=fb.job if fb else None,
        failover_at=fb.at if fb else None,
        offsets=tuple(offsets),
        overlaps=tuple(overlaps),
        unscheduled=tuple(unscheduled),
        jobs=tuple(plan.jobs),
        drills=tuple(drills),
        drill_day=day,
        drill_overlaps=tuple(drill_overlaps),
    )


# -- SVG -----------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_W = 820
_LEFT = 170
_RIGHT = 24
_PLOT = _W - _LEFT - _RIGHT
_ROW = 24
_BAR = 14
_HEAD = 22
_GAP = 10
_FONT = "font-family='sans-serif'"

_COLOURS: dict[str, str] = {
    "local": "#4c78a8",
    "switchover": "#e4572e",
    "failover": "#7b3fa0",
    "overlap": "#c00000",
    "ghost": "#6e7781",
    "drill": "#1b7f5f",
}


@dataclass(frozen=True)
class Axis:
    """The hours the SVG draws: ``[lo, hi)`` in minutes of the day, and why (when it is the whole day)."""

    lo: int = 0
    hi: int = DAY
    why_whole_day: str | None = None

    def x(self, minute: float) -> float:
        """The x coordinate of ``minute`` (minutes since midnight) on this axis."""
        return round(_LEFT + (minute - self.lo) * _PLOT / (self.hi - self.lo), 1)

    @property
    def whole_day(self) -> bool:
        """True when all 24 hours are drawn."""
        return self.lo == 0 and self.hi == DAY


_WHOLE_DAY_FROM = 18 * 60
"""A trimmed span at least this long is drawn as the whole day (trimming would hide little)."""


def axis(tl: Timeline) -> Axis:
    """Only the hours that hold something: from the hour of the first start to the hour after the last end.

    The whole day instead, with the reason, when a window, the failover slot or a drill slot runs
    past midnight (the picture would tear it in two), when nothing has a daily run, or when the runs
    spread over 18 hours or more.
    """
    marks = [*tl.windows, *tl.failover, *tl.drills]
    if not marks:
        return Axis(why_whole_day="nothing has a daily run or a failover slot")
    wrapping = [w for w in marks if w.start + w.duration > DAY]
    if wrapping:
        w = wrapping[0]
        what = {
            "failover": f"the failover slot of {w.job}",
            "drill": f"the weekly drill of {w.job} ({w.day})",
        }.get(w.kind, f"{w.job} on {w.node}")
        return Axis(why_whole_day=f"{what} ({w.span}) runs past midnight")
    lo = min(w.start for w in marks) // 60 * 60
    hi = -(-max(w.start + w.duration for w in marks) // 60) * 60
    if hi - lo < 60:  # pragma: no cover - every window lasts at least a minute
        hi = lo + 60
    if hi - lo >= _WHOLE_DAY_FROM:
        return Axis(why_whole_day=f"the runs spread over {(hi - lo) // 60} hours of the day")
    return Axis(lo, hi)


def _t(text: object) -> str:
    """Text for an SVG text node or attribute: escaped, and without the control characters XML forbids."""
    return escape(_CONTROL.sub("\ufffd", str(text)), quote=True)


def _rect(x0: float, x1: float, y: float, h: float, attrs: str, title: str) -> str:
    return (
        f"<rect x='{x0}' y='{y}' width='{max(round(x1 - x0, 1), 0.5)}' height='{h}' {attrs}>"
        f"<title>{_t(title)}</title></rect>"
    )


def _text(x: float, y: float, text: str, attrs: str = "", size: int = 11) -> str:
    return f"<text x='{x}' y='{y}' {_FONT} font-size='{size}' {attrs}>{_t(text)}</text>"


def _label_at(
    ax: Axis, pieces: list[tuple[int, int]], text: str, y: float, colour: str, *, outside: bool = False,
    bold: bool = False,
) -> str:
    """Put ``text`` inside the widest piece when it fits, else just after (or before) it."""
    lo, hi = max(pieces, key=lambda p: p[1] - p[0])
    width = len(text) * 6.2
    weight = " font-weight='bold'" if bold else ""
    if not outside and ax.x(hi) - ax.x(lo) >= width + 6:
        return _text(ax.x(lo) + 3, y, text, "fill='#ffffff'" + weight)
    if ax.x(hi) + width + 4 <= _W - 2:
        return _text(ax.x(hi) + 3, y, text, f"fill='{colour}'" + weight)
    return _text(max(ax.x(lo) - width - 3, 2), y, text, f"fill='{colour}'" + weight)


def _daily_row(tl: Timeline, ax: Axis, node: str, job: str, y: int) -> list[str]:
    """One job's row on one node: its window, and on the standby the SCH-2 reference and offset."""
    w = next(w for w in tl.windows if w.node == node and w.job == job)
    out = [_text(18, y + 15, f"{job} ({w.scope})", "fill='#24292f'")]
    off = next((o for o in tl.offsets if o.job == job and o.standby == node), None)
    if off is not None:
        # SCH-2: the home node's run as a dashed outline on the standby's row, and a dashed
        # connector from its expected end to the standby's start.
        home_span = f"{format_hhmm(off.home_start)}–{format_hhmm(off.home_start + off.duration)}"
        for a, b in segments(off.home_start, off.duration):
            out.append(_rect(
                ax.x(a), ax.x(b), y + 5, _BAR,
                f"fill='none' stroke='{_COLOURS['ghost']}' stroke-dasharray='3 2'",
                f"{off.home}'s run of {job}: {home_span} (reference for SCH-2)",
            ))
        colour = _COLOURS["ghost"] if off.ok else _COLOURS["overlap"]
        if off.gap > 0:
            for a, b in segments(off.home_start + off.duration, off.gap):
                out.append(
                    f"<line x1='{ax.x(a)}' y1='{y + 12}' x2='{ax.x(b)}' y2='{y + 12}' stroke='{colour}' "
                    f"stroke-width='2' stroke-dasharray='2 2'><title>{_t(off.describe())}</title></line>"
                )
    pieces = w.segments()
    for a, b in pieces:
        out.append(_rect(
            ax.x(a), ax.x(b), y + 5, _BAR, f"fill='{_COLOURS[w.scope]}' rx='2'",
            f"{node}: {job} ({w.scope}) daily {w.span}, expected {w.duration} min",
        ))
    label = w.span
    colour = _COLOURS[w.scope]
    if off is not None:
        if off.ok:
            label += f"  SCH-2: {off.gap} min after {off.home}'s run"
        else:
            colour = _COLOURS["overlap"]
            label += (
                f"  SCH-2 VIOLATED: only {off.gap} min after {off.home}'s run" if off.gap >= 0
                else f"  SCH-2 VIOLATED: {-off.gap} min before {off.home}'s run ends"
            )
    out.append(_label_at(ax, pieces, label, y + 16, colour))
    return out


def _failover_row(tl: Timeline, ax: Axis, node: str, y: int, row_y: dict[str, int]) -> list[str]:
    """The failover slot on one node, with the SCH-3 overlaps marked on the slot's and the job's rows."""
    out = [_text(18, y + 15, "failover slot (FO-2)", f"fill='{_COLOURS['failover']}'")]
    slot = tl.failover_on(node)
    if slot is None:
        text = (
            f"{tl.failover_job}: at once after a failover (at: now), no fixed slot"
            if tl.failover_job else "no failover_backup in the plan"
        )
        out.append(_text(_LEFT + 4, y + 16, text, "fill='#57606a' font-style='italic'"))
        return out
    pieces = slot.segments()
    for a, b in pieces:
        out.append(_rect(
            ax.x(a), ax.x(b), y + 5, _BAR, _FAILOVER_STYLE,
            f"failover backup of {slot.job} at {tl.failover_at}: {slot.span} "
            f"(runs on the node that owns the switchover partition)",
        ))
    found = tl.overlaps_on(node)
    label = f"failover {slot.job} {slot.span}"
    if found:
        label += "  ⚠ SCH-3 overlap: " + ", ".join(o.job for o in found)
        out.append(_label_at(ax, pieces, label, y + 16, _COLOURS["overlap"], outside=True, bold=True))
    else:
        out.append(_label_at(ax, pieces, label + "  SCH-3 ok", y + 16, _COLOURS["failover"], outside=True))
    for o in found:
        for a, b in o.pieces:
            # The overlap marked on both rows it concerns: the daily job's and the slot's.
            for ry in (row_y[o.job], y):
                out.append(_rect(ax.x(a), ax.x(b), ry + 2, _BAR + 6, _OVERLAP_STYLE, o.describe()))
    return out


def _drill_row(
    tl: Timeline, ax: Axis, node: str, job: str, y: int, rows: dict[tuple[str, str], int]
) -> list[str]:
    """One job's weekly drill slot on one node (DRILL-2), labelled with its day, with its overlaps
    marked on the drill's row and on the row it meets (a daily window or the failover slot)."""
    slot = next(w for w in tl.drills_on(node) if w.job == job)
    out = [_text(18, y + 15, slot.label, f"fill='{_COLOURS['drill']}'")]
    pieces = slot.segments()
    for a, b in pieces:
        out.append(_rect(
            ax.x(a), ax.x(b), y + 5, _BAR, _DRILL_STYLE,
            f"{node}: weekly drill of {job} every {slot.day} {slot.span}, one day a week (DRILL-2)",
        ))
    found = [o for o in tl.drill_overlaps_on(node) if o.job == job]
    label = f"{slot.span} on {slot.day} only"
    if found:
        label += "  ⚠ DRILL-2 overlap: " + ", ".join(o.other for o in found)
        out.append(_label_at(ax, pieces, label, y + 16, _COLOURS["overlap"], outside=True, bold=True))
    else:
        out.append(_label_at(ax, pieces, label + "  DRILL-2 ok", y + 16, _COLOURS["drill"], outside=True))
    for o in found:
        other = rows[("failover", o.window.job) if o.window.kind == "failover" else ("daily", o.window.job)]
        for a, b in o.pieces:
            for ry in (other, y):
                out.append(_rect(ax.x(a), ax.x(b), ry + 2, _BAR + 6, _OVERLAP_STYLE, o.describe()))
    return out


_DRILL_STYLE = (
    f"fill='{_COLOURS['drill']}' fill-opacity='0.45' stroke='{_COLOURS['drill']}' stroke-width='1.5' rx='2'"
)
_FAILOVER_STYLE = (
    f"fill='{_COLOURS['failover']}' fill-opacity='0.25' stroke='{_COLOURS['failover']}' "
    "stroke-dasharray='4 2'"
)
_OVERLAP_STYLE = (
    f"fill='{_COLOURS['overlap']}' fill-opacity='0.35' stroke='{_COLOURS['overlap']}' stroke-width='1.5'"
)
_LEGEND = (
    (f"fill='{_COLOURS['local']}'", "local job"),
    (f"fill='{_COLOURS['switchover']}'", "switchover job"),
    (f"fill='none' stroke='{_COLOURS['ghost']}' stroke-dasharray='3 2'", "home run (SCH-2 reference)"),
    (_FAILOVER_STYLE, "failover slot (FO-2)"),
    (_DRILL_STYLE, "weekly drill (DRILL-2)"),
    (_OVERLAP_STYLE, "⚠ SCH-3 overlap"),
    (_OVERLAP_STYLE, "⚠ DRILL-2 overlap"),
)


def _legend(tl: Timeline, y: float) -> list[tuple[float, float, str, str]]:
    """``(x, y, swatch attributes, words)`` of the legend entries the picture needs, wrapped to the width."""
    shown = {
        "local job": any(w.scope == "local" for w in tl.windows),
        "switchover job": any(w.scope == "switchover" for w in tl.windows),
        "home run (SCH-2 reference)": bool(tl.offsets),
        "failover slot (FO-2)": bool(tl.failover),
        "weekly drill (DRILL-2)": bool(tl.drills),
        "⚠ SCH-3 overlap": bool(tl.overlaps),  # only when there is one to explain
        "⚠ DRILL-2 overlap": bool(tl.drill_overlaps),
    }
    out: list[tuple[float, float, str, str]] = []
    x = 8.0
    for attrs, text in _LEGEND:
        if not shown[text]:
            continue
        width = 18 + len(text) * 6.2
        if x > 8.0 and x + width > _W - _RIGHT:
            x, y = 8.0, y + 16
        out.append((x, y, attrs, text))
        x += width + 16
    return out


def svg(plan: Plan | Timeline) -> str:
    """The 24-hour schedule timeline of a plan as a standalone SVG document (text).

    One block per node (in plan order), one row per job with a daily run, and a row for the
    failover slot (FO-2 / SCH-3), then a row per job the weekly drill checks (DRILL-2), labelled
    with its day, its overlaps marked. Only the hours that hold a run are drawn (see :func:`axis`; when
    it is the whole day, a note says why), and the legend names only the marks the picture holds.
    Every mark carries text as well as colour, and a ``<title>``
    tooltip. Every plan value is escaped.
    """
    tl = plan if isinstance(plan, Timeline) else timeline(plan)
    ax = axis(tl)
    scheduled = [j for j in tl.jobs if j not in tl.unscheduled]
    top = 48
    block = _HEAD + (len(scheduled) + 1 + len(tl.drilled)) * _ROW + _GAP
    plot_bottom = top + block * len(tl.nodes)
    legend_y = plot_bottom + 16
    notes = ["no daily run (no daily_at): " + ", ".join(tl.unscheduled)] if tl.unscheduled else []
    if ax.why_whole_day:
        notes.append(f"the whole day is drawn: {ax.why_whole_day}")
    legend = _legend(tl, legend_y)
    notes_y = legend[-1][1] + 26 if legend else legend_y + 26
    height = notes_y - 4 + 16 * len(notes)
    hours = "24 h" if ax.whole_day else (
        f"{format_hhmm(ax.lo)}–{format_hhmm(ax.hi)}, the hours that hold a run"
    )
    title = f"Schedule timeline of cluster {tl.cluster}: daily backup windows per node ({hours})"
    if tl.drills:
        title += f" and the weekly drill on {tl.drill_day}"
    out: list[str] = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{_W}' height='{height}' "
        f"viewBox='0 0 {_W} {height}' role='img' aria-label='{_t(title)}'>",
        f"<title>{_t(title)}</title>",
        f"<rect x='0' y='0' width='{_W}' height='{height}' fill='#ffffff'/>",
        _text(8, 18, f"Schedule timeline — cluster {tl.cluster} ({hours}, the nodes' local time)",
              "font-weight='bold'", 13),
    ]
    # Every hour labelled on a short axis; every third one on a long axis, where labels would collide.
    step = 1 if ax.hi - ax.lo <= 12 * 60 else 3
    for h in range(ax.lo // 60, ax.hi // 60 + 1):
        x = ax.x(h * 60)
        grid = "#c9d1d9" if h % step == 0 else "#eef1f4"
        out.append(f"<line x1='{x}' y1='{top - 8}' x2='{x}' y2='{plot_bottom}' stroke='{grid}'/>")
        if h % step == 0:
            out.append(_text(x - 14, top - 12, f"{h:02d}:00", "fill='#57606a'", 10))

    y = top
    for node in tl.nodes:
        role = "home, normally active" if node == tl.home else "standby (non-home)"
        out.append(_text(8, y + 15, f"{node} — {role}", "font-weight='bold'"))
        out.append(f"<line x1='8' y1='{y + _HEAD - 2}' x2='{_W - _RIGHT}' y2='{y + _HEAD - 2}' "
                   "stroke='#d0d7de'/>")
        y += _HEAD
        row_y: dict[str, int] = {}
        for job in scheduled:
            row_y[job] = y
            out += _daily_row(tl, ax, node, job, y)
            y += _ROW
        out += _failover_row(tl, ax, node, y, row_y)
        rows = {("daily", j): ry for j, ry in row_y.items()}
        if tl.failover_job is not None:
            rows[("failover", tl.failover_job)] = y
        y += _ROW
        for job in tl.drilled:
            out += _drill_row(tl, ax, node, job, y, rows)
            y += _ROW
        y += _GAP

    # The legend: every swatch has its words next to it (never colour alone).
    for lx, ly, attrs, text in legend:
        out.append(f"<rect x='{lx}' y='{ly}' width='14' height='10' {attrs}/>")
        out.append(_text(lx + 18, ly + 9, text, "fill='#24292f'"))
    for i, note in enumerate(notes):
        out.append(_text(8, notes_y + 16 * i, note, "fill='#57606a'"))
    out.append("</svg>")
    return "\n".join(out)
