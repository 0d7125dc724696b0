"""HTML and Markdown views of results for Jupyter (everything escaped). Pure."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from clpbackup.errors import ClpBackupError

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.results import ClusterResult, RestoreSource

_STYLE = "border-collapse:collapse;font-family:monospace;font-size:90%"
_CELL = "border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top"
_STATE_COLOURS = {
    "ok": "#1a7f37",
    "matching": "#1a7f37",
    "unchanged": "#57606a",
    "create": "#0969da",
    "update": "#9a6700",
    "delete": "#cf222e",
    "FAILED": "#cf222e",
    "missing": "#cf222e",
    "different": "#9a6700",
    "stale": "#9a6700",
    "foreign": "#57606a",
}


def _cell(value: Any, header: bool = False) -> str:
    tag = "th" if header else "td"
    text = "" if value is None else str(value)
    colour = _STATE_COLOURS.get(text)
    style = _CELL + (f";color:{colour};font-weight:bold" if colour else "")
    return f"<{tag} style='{style}'>{escape(text)}</{tag}>"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """An HTML table with escaped cells."""
    head = "".join(_cell(h, header=True) for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table style='{_STYLE}'><tr>{head}</tr>{body}</table>"


def _rows(result: ClusterResult[Any]) -> list[list[Any]]:
    from clpbackup.results import DeployResult, RunResult, ScheduleResult, StatusResult

    rows: list[list[Any]] = []
    for node, v in result.items():
        if isinstance(v, ClpBackupError):
            rows.append([node, "FAILED", type(v).__name__, str(v)])
        elif isinstance(v, DeployResult):
            if not v.changes:
                rows.append([node, "ok" if v.ok else "problems", "", v.summary()])
            for c in v.changes:
                rows.append([node, c.action, c.kind, c.name])
        elif isinstance(v, StatusResult):
            for s in v.schedules:
                rows.append(
                    [node, s.state, s.name, s.verdict or (s.last_result if s.last_result is not None else "")]
                )
            if not v.schedules:
                rows.append([node, "ok" if v.ok else "problems", "", v.summary()])
        elif isinstance(v, (ScheduleResult, RunResult)):
            rows.append([node, "ok" if v.ok else "problems", getattr(v, "job", ""), v.summary()])
        else:
            rows.append([node, "ok" if v.ok else "problems", "", v.summary()])
    return rows


def cluster_result_html(result: ClusterResult[Any]) -> str:
    """HTML for a :class:`~clpbackup.results.ClusterResult`: a node × item table and the problems."""
    state = "ok" if result.ok else "NOT OK"
    colour = "#1a7f37" if result.ok else "#cf222e"
    parts = [
        f"<div><b>{escape(result.operation)}</b>: <span style='color:{colour}'>{state}</span>"
        + (" (changed)" if result.changed else "")
        + "</div>",
        table(["node", "state", "item", "detail"], _rows(result)),
    ]
    problems = result.all_problems()
    if problems:
        parts.append("<ul>" + "".join(f"<li>{escape(str(p))}</li>" for p in problems) + "</ul>")
    return "".join(parts)


def cluster_result_markdown(result: ClusterResult[Any]) -> str:
    """Markdown for a :class:`~clpbackup.results.ClusterResult`."""

    def md(v: Any) -> str:
        return escape(str(v if v is not None else "")).replace("|", "\\|")

    lines = [
        f"**{md(result.operation)}**: {'ok' if result.ok else 'NOT OK'}",
        "",
        "| node | state | item | detail |",
        "|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in _rows(result)]
    for p in result.all_problems():
        lines.append(f"- {md(p)}")
    return "\n".join(lines)


def restore_html(source: RestoreSource) -> str:
    """HTML for a :class:`~clpbackup.results.RestoreSource`."""
    rows: list[list[Any]] = [
        ["item", source.item],
        ["node", source.node],
        ["job", source.job],
        ["version", source.version],
        ["command", source.command],
    ]
    rows += [[f"candidate {n}", v] for n, v in source.candidates.items()]
    rows += [["step", s] for s in source.steps]
    rows += [["problem", str(p)] for p in source.problems]
    return table(["", ""], rows)
