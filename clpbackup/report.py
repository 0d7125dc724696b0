"""A status report to hand over: one standalone HTML page or Markdown file (pure, no I/O).

``clpbackup status PLAN --format html|md --out FILE`` writes it; it can be mailed or attached to a
change ticket. It is made of the notebook views of :mod:`clpbackup.display` (same facts, same
escaping): the plan (cluster, both nodes, jobs × nodes, the failover slot, the rule findings), the
status of both nodes (role, OS, Schedule service, drift of files, schedules with last and next runs,
newest versions), the problems, and the 24-hour timeline of :mod:`clpbackup.timeline` (SVG in HTML; a
list of the daily windows in Markdown, which cannot hold SVG).

The HTML page carries its styles inline and loads nothing, so it reads the same offline.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from clpbackup.display import _Bullets, _Doc, _Heading, _html, _markdown, _md, _plan_doc, _result_doc
from clpbackup.errors import ClpBackupError

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.plan import Plan
    from clpbackup.results import ClusterResult

__all__ = ["status_report_html", "status_report_markdown"]


def _title(plan: Plan, generated: str | None) -> str:
    when = f" ({generated})" if generated else ""
    return f"clpbackup status of cluster {plan.cluster.name}{when}"


def _timeline_lines(plan: Plan) -> list[str]:
    """The daily windows, the failover slot and the weekly drill's slots as lines (the Markdown
    stand-in for the SVG)."""
    from clpbackup.timeline import timeline

    try:
        tl = timeline(plan)
    except ClpBackupError as exc:  # a report never raises: it says what it could not draw
        return [f"timeline not available: {exc}"]
    lines = [f"{w.node}: {w.job} ({w.scope}) daily {w.span}, {w.duration} min" for w in tl.windows]
    lines += [f"{s.node}: failover slot of {s.job} {s.span} (FO-2)" for s in tl.failover]
    lines += [o.describe() for o in tl.overlaps]
    lines += [f"{w.node}: weekly drill of {w.job} every {w.day} {w.span} (DRILL-2)" for w in tl.drills]
    lines += [o.describe() for o in tl.drill_overlaps]
    lines += [f"{j}: no daily run (no daily_at)" for j in tl.unscheduled]
    return lines


def status_report_html(plan: Plan, result: ClusterResult[Any], *, generated: str | None = None) -> str:
    """A standalone HTML page: the plan with its timeline, the status of the nodes, the problems.

    ``generated`` (for example the time the status was read) goes into the title as given.
    """
    title = _title(plan, generated)
    body = _html(_result_doc(result)) + _html(_plan_doc(plan, svg=True))
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title></head>\n"
        "<body style='font-family:sans-serif;margin:16px'>\n"
        f"<h1 style='font-size:140%'>{escape(title)}</h1>\n{body}\n</body></html>\n"
    )


def status_report_markdown(plan: Plan, result: ClusterResult[Any], *, generated: str | None = None) -> str:
    """The same report as Markdown; the timeline is a list of the daily windows and the failover slot."""
    head = f"# {_md(_title(plan, generated))}\n\n"
    timeline_doc = _Doc([
        _Heading("24-hour timeline (the nodes' local time)"), _Bullets(_timeline_lines(plan))
    ])
    parts = (_result_doc(result), _plan_doc(plan, svg=False), timeline_doc)
    return head + "\n".join(_markdown(d) for d in parts)
