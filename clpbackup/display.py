"""Notebook views: HTML and Markdown of plans, findings, rendered artifacts and results (pure).

Jupyter shows an object through its ``_repr_html_`` / ``_repr_markdown_``; the classes of
clpbackup (:class:`~clpbackup.plan.Plan`, :class:`~clpbackup.rules.Finding` and
:class:`~clpbackup.rules.Findings`, :class:`~clpbackup.artifacts.NodeArtifacts`,
:class:`~clpbackup.results.ClusterResult`, :class:`~clpbackup.results.RestoreSource`) delegate to
the functions here.

Every view is first built as a small document (headings, tables, lists, preformatted text) and then
written out as HTML or as Markdown, so both formats show the same facts and every value goes through
one escaping function per format. Values come from plans, nodes and tool output and are never
trusted: HTML-escaped, Markdown-escaped (``|``, ``*``, backslashes, ``<``), control characters shown
as ``\\ufffd``. The only markup not built here is the timeline SVG of :mod:`clpbackup.timeline`,
which escapes its own text.

A state is always shown as a word with a symbol (``✔ matching``, ``✖ FAILED``), coloured as well,
never by colour alone. Node × job tables put the jobs in rows and the nodes in columns.

:func:`tqdm_progress` gives the optional progress callback of
:class:`~clpbackup.operations.ClusterBackup` (``progress=``) a bar, when ``tqdm`` is installed.
No I/O apart from drawing that bar.
"""

from __future__ import annotations

import importlib
import ntpath
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any, Literal, Union

from clpbackup.errors import ClpBackupError

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.artifacts import NodeArtifacts
    from clpbackup.plan import Job, Plan
    from clpbackup.results import Change, ClusterResult, DeployResult, RestoreSource, StatusResult
    from clpbackup.rules import Finding

__all__ = [
    "Cell",
    "ProgressUnavailable",
    "TqdmProgress",
    "artifacts_html",
    "artifacts_markdown",
    "cluster_result_html",
    "cluster_result_markdown",
    "finding_html",
    "finding_markdown",
    "findings_html",
    "findings_markdown",
    "plan_html",
    "plan_markdown",
    "progress_printer",
    "restore_html",
    "restore_markdown",
    "table",
    "tone_of",
    "tqdm_progress",
]

Tone = Literal["good", "neutral", "change", "warn", "bad"]

# Colour and symbol of each tone. The symbol and the word travel together, so a state reads the same
# on a colour-blind screen, in a printed notebook and in Markdown.
_TONES: dict[str, tuple[str, str]] = {
    "good": ("#1a7f37", "✔"),
    "neutral": ("#57606a", "○"),
    "change": ("#0969da", "●"),
    "warn": ("#9a6700", "▲"),
    "bad": ("#cf222e", "✖"),
}

_EXACT_TONES: dict[str, Tone] = {
    "ok": "good",
    "matching": "good",
    "success": "good",
    "owner": "good",
    "last run succeeded": "good",
    "unchanged": "neutral",
    "one-shot": "neutral",
    "not-run": "neutral",
    "not run yet": "neutral",
    "standby": "neutral",
    "info": "neutral",
    "expected-failure": "neutral",
    "one-shot backup": "neutral",
    "create": "change",
    "update": "change",
    "running": "change",
    "changed": "change",
    "delete": "warn",
    "adopt": "change",
    "conflict": "bad",
    "held": "warn",
    "foreign": "warn",
    "different": "warn",
    "stale": "warn",
    "timeout": "warn",
    "warning": "warn",
    "problems": "warn",
    "owner unknown": "warn",
    "not in the plan": "warn",
    "FAILED": "bad",
    "NOT OK": "bad",
    "missing": "bad",
    "failed": "bad",
    "error": "bad",
    "refused": "bad",
}

_PREFIX_TONES: tuple[tuple[str, Tone], ...] = (
    ("expected", "neutral"),  # "expected: partition not attached (JOB-3)" is normal, not an error
    ("not the owner", "neutral"),
    ("already", "good"),
    ("would ", "change"),
    ("started", "change"),
    ("scheduled", "change"),
    ("failed", "bad"),
    ("missing", "bad"),
    ("refused", "bad"),
)


def tone_of(state: str) -> Tone | None:
    """The tone of a state word clpbackup uses (``matching``, ``failed with 1``, ``FAILED`` …)."""
    if state in _EXACT_TONES:
        return _EXACT_TONES[state]
    low = state.lower()
    if low in _EXACT_TONES:
        return _EXACT_TONES[low]
    for prefix, tone in _PREFIX_TONES:
        if low.startswith(prefix):
            return tone
    if "identical at jobs" in low:  # IDEM-1 duplicates
        return "warn"
    return None


_RANK: dict[str | None, int] = {"bad": 4, "warn": 3, "change": 2, "neutral": 1, "good": 0, None: 0}


def _worst(tones: Iterable[Tone | None]) -> Tone | None:
    """The most serious tone (bad > warn > change > neutral > good); ``None`` for none."""
    present = [t for t in tones if t is not None]
    return max(present, key=lambda t: _RANK[t]) if present else None


# -- the document model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """A table cell or list item: its text, an optional tone (shown as symbol + colour) and more lines."""

    text: str
    tone: Tone | None = None
    lines: tuple[str, ...] = ()
    code: bool = False

    @classmethod
    def state(cls, text: str, *lines: str, tone: Tone | None = None) -> Cell:
        """A cell whose tone follows from its state word (``matching``, ``FAILED`` …)."""
        return cls(text, tone or tone_of(text), tuple(x for x in lines if x))


CellLike = Union[Cell, str, int, None]  # noqa: UP007 - a runtime alias on Python 3.10


@dataclass(frozen=True)
class _Heading:
    text: str
    badge: Cell | None = None


@dataclass(frozen=True)
class _Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[CellLike]]
    caption: str | None = None


@dataclass(frozen=True)
class _Bullets:
    items: Sequence[CellLike]
    title: str | None = None


@dataclass(frozen=True)
class _Pre:
    summary: str
    text: str


@dataclass(frozen=True)
class _Text:
    text: str


@dataclass(frozen=True)
class _Svg:
    """Trusted markup (from :mod:`clpbackup.timeline`, which escapes its text); HTML only."""

    markup: str
    alt: str


_Block = Union[_Heading, _Table, _Bullets, _Pre, _Text, _Svg]  # noqa: UP007


@dataclass
class _Doc:
    blocks: list[_Block] = field(default_factory=list)

    def add(self, *blocks: _Block) -> _Doc:
        self.blocks.extend(blocks)
        return self


# -- escaping ---------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Characters that mean something inline in (GitHub/Jupyter) Markdown, table pipes included.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# What would start a block (heading, quote, list, rule) at the start of a list item's text.
_MD_BLOCK_START = re.compile(r"^(\s*)([#>+=-])")
_MD_ORDERED = re.compile(r"^(\s*\d+)([.)])")


def _plain(value: Any) -> str:
    """``str(value)`` with control characters replaced (they have no place in a notebook view)."""
    text = "" if value is None else str(value)
    return _CONTROL.sub("\ufffd", text)


def _h(value: Any) -> str:
    """HTML text: escaped (quotes too, since attribute values are quoted)."""
    return escape(_plain(value), quote=True)


def _md(value: Any, *, line_start: bool = False) -> str:
    """Markdown inline text: backslash-escaped specials, HTML-escaped markup, one line.

    ``line_start``: the text starts a line (a list item, a paragraph), where ``# `` or ``1. `` would
    start a heading or a list.
    """
    text = _plain(value).replace("\r\n", "\n").replace("\r", "\n").replace("\n", " ")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    if line_start:
        text = _MD_BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
        text = _MD_ORDERED.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    # html.escape after the backslashes, so entities such as &#x27; are not broken by them.
    return escape(text, quote=False)


def _md_code(value: Any, *, table: bool) -> str:
    """A Markdown code span: shown literally (no entity or markup is read inside one)."""
    text = _plain(value).replace("\r", " ").replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)  # a delimiter the content cannot close
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    if table:
        # GFM splits table cells at | before it reads code spans; \| keeps it in the cell.
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


# -- writing HTML ---------------------------------------------------------------------------------

_TABLE = "border-collapse:collapse;font-family:monospace;font-size:90%;margin:4px 0"
_TD = "border:1px solid #d0d7de;padding:2px 6px;text-align:left;vertical-align:top"
_TH = _TD + ";background:#f6f8fa"


def _cell(value: CellLike) -> Cell:
    if isinstance(value, Cell):
        return value
    return Cell("" if value is None else str(value))


def _badge_html(c: Cell) -> str:
    text = _h(c.text)
    if c.code:
        text = f"<code>{text}</code>"
    if c.tone is None:
        return text
    colour, symbol = _TONES[c.tone]
    return f"<span style='color:{colour};font-weight:bold' data-tone='{c.tone}'>{symbol} {text}</span>"


def _cell_html(value: CellLike) -> str:
    c = _cell(value)
    more = "".join(f"<br><span style='color:#57606a'>{_h(x)}</span>" for x in c.lines)
    return _badge_html(c) + more


def _html(doc: _Doc) -> str:
    out: list[str] = ["<div class='clpbackup'>"]
    for b in doc.blocks:
        if isinstance(b, _Heading):
            badge = f" {_badge_html(b.badge)}" if b.badge else ""
            out.append(f"<div style='font-weight:bold;margin:6px 0 2px'>{_h(b.text)}{badge}</div>")
        elif isinstance(b, _Table):
            cap = f"<caption style='text-align:left'>{_h(b.caption)}</caption>" if b.caption else ""
            head = "".join(f"<th style='{_TH}'>{_h(x)}</th>" for x in b.headers)
            body = "".join(
                "<tr>" + "".join(f"<td style='{_TD}'>{_cell_html(c)}</td>" for c in row) + "</tr>"
                for row in b.rows
            )
            out.append(f"<table style='{_TABLE}'>{cap}<tr>{head}</tr>{body}</table>")
        elif isinstance(b, _Bullets):
            if b.title:
                out.append(f"<div>{_h(b.title)}</div>")
            out.append("<ul>" + "".join(f"<li>{_cell_html(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, _Pre):
            out.append(
                f"<details><summary><code>{_h(b.summary)}</code></summary>"
                f"<pre style='margin:2px 0 6px 12px'>{_h(b.text)}</pre></details>"
            )
        elif isinstance(b, _Text):
            out.append(f"<div>{_h(b.text)}</div>")
        else:
            out.append(f"<div>{b.markup}</div>")
    out.append("</div>")
    return "".join(out)


# -- writing Markdown -------------------------------------------------------------------------------


def _cell_md(value: CellLike, *, table: bool = True) -> str:
    c = _cell(value)
    if c.code and c.text:
        text = _md_code(c.text, table=table)
    else:
        text = _md(c.text, line_start=not table and c.tone is None)
    if c.tone is not None:
        text = f"{_TONES[c.tone][1]} {text}"
    if c.lines:
        text += "".join(f" · {_md(x)}" for x in c.lines)
    return text


def _markdown(doc: _Doc) -> str:
    out: list[str] = []
    for b in doc.blocks:
        if isinstance(b, _Heading):
            badge = f" {_cell_md(b.badge)}" if b.badge else ""
            out += [f"**{_md(b.text)}**{badge}", ""]
        elif isinstance(b, _Table):
            if b.caption:
                out += [_md(b.caption, line_start=True), ""]
            out.append("| " + " | ".join(_md(h) or " " for h in b.headers) + " |")
            out.append("|" + "---|" * len(b.headers))
            out += ["| " + " | ".join(_cell_md(c) for c in row) + " |" for row in b.rows]
            out.append("")
        elif isinstance(b, _Bullets):
            if b.title:
                out += [_md(b.title, line_start=True), ""]
            out += [f"- {_cell_md(i, table=False)}" for i in b.items]
            out.append("")
        elif isinstance(b, _Pre):
            text = _plain(b.text).replace("\r\n", "\n")
            longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
            fence = "`" * max(3, longest + 1)  # a fence the content cannot close
            out += [f"{_md_code(b.summary, table=False)}:", "", fence, text.rstrip("\n"), fence, ""]
        elif isinstance(b, _Text):
            out += [_md(b.text, line_start=True), ""]
        else:
            out += [_md(b.alt), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """An HTML table with escaped cells (a state word in a cell is shown with its symbol and colour)."""
    cells: list[list[CellLike]] = [[_auto(c) for c in row] for row in rows]
    return _html(_Doc([_Table(headers, cells)]))


def _auto(value: Any) -> CellLike:
    if isinstance(value, Cell):
        return value
    text = "" if value is None else str(value)
    tone = _EXACT_TONES.get(text)
    return Cell(text, tone) if tone else text


# -- findings -----------------------------------------------------------------------------------------


def _findings_block(findings: Sequence[Finding]) -> list[_Block]:
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
    summary = ", ".join(f"{n} {s}{'s' if n != 1 and s != 'info' else ''}" for s, n in counts.items() if n)
    badge = (
        Cell("errors: the plan is refused", "bad")
        if counts["error"]
        else Cell("no errors", "good")
    )
    blocks: list[_Block] = [_Heading(f"Rule findings: {summary or 'none'}", badge=badge)]
    if findings:
        rows: list[list[CellLike]] = [
            [
                Cell(f.severity, tone_of(f.severity)),
                Cell(f.rule, code=True),
                f.where or "plan",
                f.message,
                f.hint,
                Cell(f.field or "", code=bool(f.field)),
            ]
            for f in findings
        ]
        blocks.append(_Table(["severity", "rule", "where", "message", "what to do", "field"], rows))
    return blocks


def findings_html(findings: Sequence[Finding]) -> str:
    """HTML for a list of :class:`~clpbackup.rules.Finding`: counts and a table, errors first as given."""
    return _html(_Doc(_findings_block(findings)))


def findings_markdown(findings: Sequence[Finding]) -> str:
    """Markdown for a list of findings."""
    return _markdown(_Doc(_findings_block(findings)))


def finding_html(finding: Finding) -> str:
    """HTML for one finding."""
    return _html(_Doc(_findings_block([finding])[1:]))


def finding_markdown(finding: Finding) -> str:
    """Markdown for one finding."""
    return _markdown(_Doc(_findings_block([finding])[1:]))


# -- the plan -----------------------------------------------------------------------------------------


def _plan_doc(plan: Plan, *, svg: bool) -> _Doc:
    from clpbackup.rules import scheduler_for
    from clpbackup.timeline import svg as draw
    from clpbackup.timeline import timeline

    doc = _Doc()
    c = plan.cluster
    volumes = ", ".join(c.switchover_volumes) or "none"
    doc.add(_Heading(
        f"Plan for cluster {c.name}: failover group {c.failover_group}, switchover partition {volumes}, "
        f"scripts in {plan.scripts_dir}",
    ))
    doc.add(_Table(
        ["node", "host", "OS", "role", "scheduler", "transport"],
        [
            [
                Cell(n.name, code=True),
                n.host,
                n.os,
                Cell("home (normally active)", "good") if n.home else Cell("standby", "neutral"),
                scheduler_for(plan, n),
                f"{plan.connection_for(n).transport} / {plan.connection_for(n).auth}",
            ]
            for n in plan.nodes
        ],
    ))
    try:
        tl = timeline(plan)
    except ClpBackupError as exc:  # a view never raises: it says what it could not draw
        doc.add(_Bullets([Cell(f"timeline not available: {exc}", "bad")]))
        tl = None
    headers = ["job", "scope", "include", "target"] + [
        f"{n.name} ({'home' if n.home else 'standby'})" for n in plan.nodes
    ]
    rows: list[list[CellLike]] = []
    for name, job in plan.jobs.items():
        row: list[CellLike] = [
            Cell(name, code=True),
            job.scope,
            "; ".join(job.include),
            _target(job),
        ]
        for n in plan.nodes:
            w = next((w for w in tl.windows if w.node == n.name and w.job == name), None) if tl else None
            if w is None:
                row.append(Cell("no daily run", "neutral"))
                continue
            off = next((o for o in tl.offsets if o.job == name and o.standby == n.name), None) if tl else None
            lines = [f"{w.duration} min"]
            if off is None:
                row.append(Cell(w.span, None, tuple(lines)))
            else:
                after = f"{off.gap} min after" if off.gap >= 0 else f"{-off.gap} min before"
                lines.append(f"SCH-2: starts {after} {off.home}'s run ends")
                row.append(Cell(w.span, "good" if off.ok else "bad", tuple(lines)))
        rows.append(row)
    doc.add(_Table(headers, rows, caption="Jobs × nodes: the daily start on each node"))

    fb = plan.failover_backup
    if fb is None:
        doc.add(_Bullets([Cell("no failover_backup: nothing is scheduled after a failover (FO-2)", "warn")]))
    elif fb.at == "now":
        doc.add(_Bullets([Cell(f"FO-2: after a failover, {fb.job} runs at once on the new owner", "good")]))
    elif tl is not None:
        slot = tl.failover[0]
        if tl.overlaps:
            items: list[CellLike] = [Cell(o.describe(), "bad") for o in tl.overlaps]
        else:
            items = [Cell(f"SCH-3: the failover slot {slot.span} overlaps no daily window", "good")]
        doc.add(_Bullets(
            [Cell(f"FO-2: after a failover, {fb.job} runs on the new owner at {fb.at} ({slot.span})"), *items]
        ))
    if tl is not None and tl.drills:
        slots = ", ".join(f"{w.job} {w.span}" for w in tl.drills_on(tl.nodes[0]))
        drill_items: list[CellLike] = [
            Cell(f"DRILL-2: every {tl.drill_day}, on both nodes, the weekly drill of {slots}")
        ]
        if tl.drill_overlaps:
            drill_items += [Cell(o.describe(), "bad") for o in tl.drill_overlaps]
        else:
            drill_items.append(Cell("DRILL-2: no drill slot overlaps a backup window", "good"))
        doc.add(_Bullets(drill_items))
    try:
        doc.add(*_findings_block(plan.findings()))
    except ClpBackupError as exc:
        doc.add(_Bullets([Cell(f"rule checks failed: {exc}", "bad")]))
    if svg and tl is not None:
        doc.add(_Svg(draw(tl), "timeline: Plan.timeline_svg()"))
    return doc


def _target(job: Job) -> str:
    if job.target:
        return job.target
    nt = job.ntbackup
    if nt is None:
        return ""
    if nt.file:
        return f"file {nt.file}"
    return f"tape {nt.tape}" if nt.tape else f"media pool {nt.media_pool}"


def plan_html(plan: Plan) -> str:
    """HTML for a :class:`~clpbackup.plan.Plan`: nodes, jobs × nodes, failover slot, findings, timeline."""
    return _html(_plan_doc(plan, svg=True))


def plan_markdown(plan: Plan) -> str:
    """Markdown for a plan (the timeline is SVG, so only the HTML view draws it)."""
    return _markdown(_plan_doc(plan, svg=False))


# -- rendered artifacts -----------------------------------------------------------------------------


def _artifacts_doc(arts: NodeArtifacts) -> _Doc:
    from clpbackup.platforms import get_platform

    doc = _Doc([_Heading(
        f"{arts.node}: {get_platform(arts.os).display_name}, {arts.scheduler}, code page {arts.codepage}"
    )])
    doc.add(_Table(
        ["file", "role", "job", "encoding", "bytes", "sha256"],
        [
            [Cell(f.path, code=True), f.role, f.job or "", f.encoding, len(f.content), f.sha256[:12]]
            for f in arts.files
        ],
    ))
    if arts.schedules:
        doc.add(_Table(
            ["schedule", "job", "kind", "at", "scheduler", "command line"],
            [
                [Cell(s.name, code=True), s.job, s.kind, s.at, s.scheduler, Cell(s.command_line, code=True)]
                for s in arts.schedules
            ],
        ))
    if arts.notes:
        doc.add(_Bullets(list(arts.notes)))
    for f in arts.files:
        try:
            text = f.text()
        except (UnicodeDecodeError, LookupError):
            text = f"({len(f.content)} bytes that do not decode as {f.encoding})"
        doc.add(_Pre(f.path, text.replace("\r\n", "\n")))
    return doc


def artifacts_html(arts: NodeArtifacts) -> str:
    """HTML for one node's :class:`~clpbackup.artifacts.NodeArtifacts`: files, schedules, file texts."""
    return _html(_artifacts_doc(arts))


def artifacts_markdown(arts: NodeArtifacts) -> str:
    """Markdown for one node's rendered artifacts."""
    return _markdown(_artifacts_doc(arts))


# -- cluster results ----------------------------------------------------------------------------------


def _error_cell(err: ClpBackupError) -> Cell:
    return Cell("FAILED", "bad", (f"{type(err).__name__}: {err}",))


_SPECIAL_FILES = {"failover", "start-fragment"}


def _change_jobs(changes: Iterable[Change]) -> list[str]:
    """Job names seen in the file changes (``<dir>\\<job>.bat``, ``.bks``, ``<job>-failover.bat``)."""
    jobs: list[str] = []
    for c in changes:
        job = getattr(c, "job", None) or (_file_job(c.name) if c.kind == "file" else None)
        if job and job not in jobs:
            jobs.append(job)
    return jobs


def _file_job(path: str) -> str | None:
    stem = ntpath.basename(path).rsplit(".", 1)[0]
    if stem in _SPECIAL_FILES:
        return None
    return stem.removesuffix("-failover") or None


def _change_job(c: Change, jobs: Sequence[str]) -> str | None:
    """Which job a deploy change belongs to, from its name; ``None`` for the cluster-wide scripts."""
    explicit = getattr(c, "job", None)
    if explicit:
        return str(explicit)
    if c.kind == "file":
        return _file_job(c.name)
    if c.kind != "schedule":
        return None
    for text in (c.name, c.after or "", c.before or ""):
        # AT entries are named by their command ("AT 01:00 C:\clpbackup\local-daily.bat"); a
        # stale entry names a job the plan no longer has, which gets its own row.
        m = re.search(r"([A-Za-z0-9][A-Za-z0-9_-]*)\.bat\b", text)
        if m:
            return _file_job(m.group(1) + ".bat")
    # schtasks entries are named clpbackup-<cluster>-<job>; the longest job that ends the name wins.
    for job in sorted(jobs, key=len, reverse=True):
        if c.name.lower().endswith("-" + job.lower()) or c.name.lower().endswith("-" + job.lower() + "-once"):
            return job
    return None


_OTHER = "(cluster-wide: failover.bat, start script)"


def _deploy_blocks(result: ClusterResult[Any]) -> list[_Block]:
    from clpbackup.results import DeployResult

    deploys: dict[str, DeployResult] = {n: v for n, v in result.items() if isinstance(v, DeployResult)}
    jobs = _change_jobs(c for v in deploys.values() for c in v.changes)
    per: dict[tuple[str | None, str], list[Change]] = {}
    row_keys: list[str | None] = list(jobs)
    for node, v in deploys.items():
        for c in v.changes:
            job = _change_job(c, jobs)
            per.setdefault((job, node), []).append(c)
            if job is not None and job not in row_keys:
                row_keys.append(job)
    if any(k[0] is None for k in per):
        row_keys.append(None)
    nodes = list(result)
    rows: list[list[CellLike]] = []
    for job in row_keys:
        row: list[CellLike] = [Cell(job, code=True) if job else _OTHER]
        for node in nodes:
            value = result[node]
            if isinstance(value, ClpBackupError):
                row.append(_error_cell(value))
                continue
            changes = per.get((job, node), [])
            row.append(_changes_cell(changes, getattr(value, "check", False)))
        rows.append(row)
    if not row_keys:
        rows.append(["(nothing)"] + [
            _error_cell(result[n]) if isinstance(result[n], ClpBackupError) else Cell("no items", "neutral")
            for n in nodes
        ])
    blocks: list[_Block] = [_Table(["job", *nodes], rows, caption="Jobs × nodes")]
    detail = [
        [Cell(node, code=True), Cell(("would " if v.check else "") + c.action, tone_of(c.action)), c.kind,
         Cell(c.name, code=True), _change_detail(c)]
        for node, v in deploys.items()
        for c in v.changes
        if c.action != "unchanged"
    ]
    if detail:
        blocks.append(_Table(["node", "action", "kind", "item", "detail"], detail, caption="Changes"))
    return blocks


def _changes_cell(changes: Sequence[Change], check: bool) -> Cell:
    if not changes:
        return Cell("—", None)
    counts: dict[str, int] = {}
    for c in changes:
        counts[c.action] = counts.get(c.action, 0) + 1
    real = {a: n for a, n in counts.items() if a != "unchanged"}
    if not real:
        return Cell("unchanged", "good", (f"{counts['unchanged']} item(s)",))
    verb = "would " if check else ""
    text = ", ".join(f"{verb}{a} {n}" for a, n in real.items())
    tone: Tone = "warn" if "delete" in real else "change"
    extra = (f"{counts['unchanged']} unchanged",) if counts.get("unchanged") else ()
    return Cell(text, tone, extra)


def _change_detail(c: Change) -> str:
    if c.kind == "start-script":
        return "the clpbackup block of the start script (FO-1)"
    if c.kind == "file":
        if c.before and c.after:
            return f"sha256 {c.before[:12]} → {c.after[:12]}"
        return f"sha256 {c.after[:12]}" if c.after else ""
    text = c.after or c.before or ""
    return text if len(text) <= 160 else text[:157] + "..."


def _status_blocks(result: ClusterResult[Any]) -> list[_Block]:
    from clpbackup.results import ScheduleStatus, StatusResult

    statuses: dict[str, StatusResult] = {n: v for n, v in result.items() if isinstance(v, StatusResult)}
    nodes = list(result)
    node_rows: list[list[CellLike]] = []
    for node in nodes:
        v = result[node]
        if isinstance(v, ClpBackupError):
            node_rows.append([Cell(node, code=True), _error_cell(v), "", "", "", ""])
            continue
        assert isinstance(v, StatusResult)
        role = {True: Cell("owner", "good", ("switchover partition attached",)),
                False: Cell("standby", "neutral", ("partition not attached",)),
                None: Cell("owner unknown", "warn")}[v.owner]
        states = list(v.files.values())
        bad = [s for s in states if s != "matching"]
        files = (
            Cell(f"{len(states)} matching", "good") if states and not bad
            else Cell(", ".join(f"{bad.count(s)} {s}" for s in dict.fromkeys(bad)), "bad") if bad
            else Cell("none", "neutral")
        )
        node_rows.append([
            Cell(node, code=True),
            Cell("ok", "good") if v.ok else Cell("problems", "warn", (f"{len(v.problems)} problem(s)",)),
            role, v.os or "", v.schedule_service or "", files,
        ])
    blocks: list[_Block] = [
        _Table(["node", "state", "role", "OS", "Schedule service", "files"], node_rows, caption="Nodes")
    ]
    jobs: list[str | None] = []
    for v in statuses.values():
        for s in v.schedules:
            if s.job not in jobs:
                jobs.append(s.job)
        for job in v.versions:
            if job not in jobs:
                jobs.append(job)
    jobs.sort(key=lambda j: j is None)  # schedules of no plan job (stale, one-shot) last
    rows: list[list[CellLike]] = []
    for job_name in jobs:
        row: list[CellLike] = [Cell(job_name, code=True) if job_name else "(not a plan job)"]
        for node in nodes:
            v = result[node]
            if isinstance(v, ClpBackupError):
                row.append(_error_cell(v))
                continue
            assert isinstance(v, StatusResult)
            scheds: list[ScheduleStatus] = [s for s in v.schedules if s.job == job_name]
            version = v.versions.get(job_name) if job_name else None
            row.append(_status_cell(scheds, version, job_name is not None and job_name in v.versions))
        rows.append(row)
    if rows:
        caption = "Jobs × nodes: schedule, last run, newest version"
        blocks.append(_Table(["job", *nodes], rows, caption=caption))
    event_rows: list[list[CellLike]] = [
        [
            Cell(node, code=True),
            e.time,
            Cell(str(e.event_id), "bad", (e.kind or "not a clpbackup ID",)),
            e.message,
        ]
        for node, v in statuses.items()
        for e in v.events or []
    ]
    if event_rows:
        caption = "Failures the nodes raised (ALERT-1): the newest clpbackup entries of the event log"
        blocks.append(_Table(["node", "time (node)", "event ID", "message"], event_rows, caption=caption))
    return blocks


def _status_cell(scheds: Sequence[Any], version: str | None, has_version: bool) -> Cell:
    lines: list[str] = []
    text = "no schedule"
    tone: Tone = "neutral"
    if scheds:
        tones: list[Tone | None] = []
        words: list[str] = []
        for s in scheds:
            state_tone = tone_of(s.state)
            verdict = s.verdict or ""
            # A matching schedule is judged by its last run; JOB-3's expected failure stays neutral.
            tones.append(tone_of(verdict) or state_tone if s.state == "matching" else state_tone)
            words.append(s.state)
            when = f"{s.kind} {s.at}" if s.at else s.kind
            lines.append(f"{when} ({s.scheduler}{', ' + s.name if s.scheduler == 'schtasks' else ''})")
            if verdict:
                lines.append(verdict)
            if s.last_run:
                result = f", result {s.last_result}" if s.last_result is not None else ""
                lines.append(f"last run {s.last_run}{result}")
            if s.next_run:
                lines.append(f"next run {s.next_run}")
        text = ", ".join(dict.fromkeys(words))
        tone = _worst(tones) or "neutral"
    if has_version:
        lines.append(f"newest version {version}" if version else "no backup version yet")
    return Cell(text, tone, tuple(lines))


def _generic_rows(result: ClusterResult[Any]) -> list[list[CellLike]]:
    from clpbackup.results import RunResult, ScheduleResult

    rows: list[list[CellLike]] = []
    for node, v in result.items():
        if isinstance(v, ClpBackupError):
            rows.append([Cell(node, code=True), _error_cell(v), "", ""])
        elif isinstance(v, ScheduleResult):
            action = v.action or ("ok" if v.ok else "problems")
            tone = "bad" if not v.ok else tone_of(action)
            rows.append([Cell(node, code=True), Cell(action, tone), v.job or "",
                         f"at {v.at}" if v.at else ""])
        elif isinstance(v, RunResult):
            detail = "; ".join(x for x in (
                f"version {v.version}" if v.version else "", f"result {v.last_result}"
                if v.last_result is not None else "", v.detail, f"log {v.log_path}" if v.log_path else "",
            ) if x)
            rows.append([Cell(node, code=True), Cell.state(v.outcome), v.job, detail])
        else:
            rows.append([Cell(node, code=True), Cell("ok", "good") if v.ok else Cell("problems", "warn"), "",
                         v.summary()])
    return rows


def _result_doc(result: ClusterResult[Any]) -> _Doc:
    from clpbackup.results import DeployResult, StatusResult

    values = [v for v in result.values() if not isinstance(v, ClpBackupError)]
    badge = Cell("ok", "good") if result.ok else Cell("NOT OK", "bad")
    title = result.operation + (" (changed)" if result.changed else "")
    doc = _Doc([_Heading(title, badge=badge)])
    if (values and all(isinstance(v, DeployResult) for v in values)) or (
        not values and result.operation.startswith("deploy")
    ):
        doc.add(*_deploy_blocks(result))
    elif values and all(isinstance(v, StatusResult) for v in values):
        doc.add(*_status_blocks(result))
    else:
        doc.add(_Table(["node", "state", "job", "detail"], _generic_rows(result)))
    problems = result.all_problems()
    if problems:
        doc.add(_Bullets([Cell(str(p), "bad" if p.rule in ("ERROR", "BACKUP") else "warn") for p in problems],
                         title=f"{len(problems)} problem(s)"))
    notes = list(result.notes) + [f"[{v.node}] {n}" for v in values for n in v.notes]
    if notes:
        doc.add(_Bullets(notes, title="notes"))
    return doc


def cluster_result_html(result: ClusterResult[Any]) -> str:
    """HTML for a :class:`~clpbackup.results.ClusterResult`: jobs × nodes, changes, problems, notes."""
    return _html(_result_doc(result))


def cluster_result_markdown(result: ClusterResult[Any]) -> str:
    """Markdown for a :class:`~clpbackup.results.ClusterResult`."""
    return _markdown(_result_doc(result))


# -- restore ------------------------------------------------------------------------------------------


def _restore_doc(source: RestoreSource) -> _Doc:
    badge = Cell("source found", "good") if source.ok else Cell("no source", "bad")
    doc = _Doc([_Heading(f"Restore {source.item} (RS-1)", badge=badge)])
    rows: list[list[CellLike]] = [
        ["node", Cell(source.node or "—", code=bool(source.node))],
        ["job", source.job or "—"],
        ["version", source.version or "—"],
        ["command", Cell(source.command or "—", code=bool(source.command))],
    ]
    rows += [[f"candidate {n}", v or "no version"] for n, v in source.candidates.items()]
    doc.add(_Table(["", ""], rows))
    if source.steps:
        doc.add(_Bullets(list(source.steps), title="steps"))
    if source.problems:
        doc.add(_Bullets([Cell(str(p), "bad") for p in source.problems], title="problems"))
    return doc


def restore_html(source: RestoreSource) -> str:
    """HTML for a :class:`~clpbackup.results.RestoreSource`."""
    return _html(_restore_doc(source))


def restore_markdown(source: RestoreSource) -> str:
    """Markdown for a :class:`~clpbackup.results.RestoreSource`."""
    return _markdown(_restore_doc(source))


# -- progress ---------------------------------------------------------------------------------------


class ProgressUnavailable(ClpBackupError, ImportError):
    """A progress bar was asked for but ``tqdm`` is not installed."""


class TqdmProgress:
    """A ``progress(node, event)`` callback that advances a tqdm bar (see :func:`tqdm_progress`).

    ``start`` and ``running`` events (``running 45%`` when the tool reports its progress) only show
    which node is at work; every other event (``done``,
    a run's outcome, ``error``) advances the bar by one. Callable from the worker threads of
    :class:`~clpbackup.operations.ClusterBackup`.
    """

    _QUIET = frozenset({"start", "running"})

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self._lock = threading.Lock()

    def __call__(self, node: str, event: str) -> None:
        with self._lock:
            if event.split(" ", 1)[0] not in self._QUIET:  # "running 45%" is still "running"
                self.bar.update(1)
            self.bar.set_postfix_str(f"{node}: {event}", refresh=True)

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()

    def __enter__(self) -> TqdmProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tqdm_progress(total: int, *, desc: str = "clpbackup", **tqdm_kwargs: Any) -> TqdmProgress:
    """A progress callback for ``ClusterBackup(plan, progress=...)`` or ``run_backup(..., progress=...)``.

    Draws a ``tqdm.auto`` bar (a widget in Jupyter, text in a terminal) of ``total`` steps: one step
    per node and operation (``done``), or per node's finished run. Progress is off unless asked for;
    ``tqdm`` is optional and :class:`ProgressUnavailable` (an ``ImportError``) says so when it is
    missing.
    """
    try:
        tqdm = importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        raise ProgressUnavailable(
            "progress bars need the tqdm package, which is not installed",
            hint="pip install tqdm, or leave progress unset (clpbackup shows no progress by default)",
        ) from None
    return TqdmProgress(tqdm(total=total, desc=desc, unit="step", **tqdm_kwargs))


def progress_printer(write: Callable[[str], Any] = print) -> Callable[[str, str], None]:
    """A progress callback without tqdm: one line per event through ``write`` (``print`` by default)."""

    def progress(node: str, event: str) -> None:
        write(f"{node}: {event}")

    return progress

