"""Notebook views: every value escaped, states in words and colour, node × job tables, progress bars."""

from __future__ import annotations

import copy
import io
import json
import re
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from clpbackup import display
from clpbackup.artifacts import ArtifactFile, NodeArtifacts, ScheduleEntry
from clpbackup.errors import ClpBackupError, ConnectionFailed, PlanError
from clpbackup.plan import Plan
from clpbackup.results import (
    Change,
    ClusterResult,
    DeployResult,
    Problem,
    RestoreSource,
    RunResult,
    ScheduleResult,
    ScheduleStatus,
    StatusResult,
)
from clpbackup.rules import Finding, Findings, check
from tests.helpers.plans import unvalidated

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "examples" / "plans"

HOSTILE = "<script>alert('x')</script> | *bold* `tick` [link](javascript:x) & \\\\share"
# no "/" in it: a Windows include path with one is refused when the plan loads
HOSTILE_PATH = "C:\\data\\<script>alert(1)|x"

# Tags the views may emit; anything else means a value was not escaped.
ALLOWED_TAGS = {
    "div", "table", "caption", "tr", "th", "td", "span", "br", "code", "ul", "li", "details",
    "summary", "pre", "svg", "title", "rect", "line", "text",
}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    p.close()
    return p


def assert_safe_html(html: str) -> str:
    """No tag but the views' own, no event handler, no javascript: — return the visible text."""
    p = parse_html(html)
    for tag, attrs in p.tags:
        assert tag in ALLOWED_TAGS, f"unexpected tag <{tag}>"
        for name, value in attrs:
            assert not name.startswith("on"), name
            assert "javascript:" not in (value or "").lower() or name == "aria-label"
    return "".join(p.text)


def md_rows(md: str) -> list[list[str]]:
    """The cells of every Markdown table row, split at the pipes GFM splits at (not at \\|)."""
    rows = []
    for line in md.splitlines():
        if line.startswith("| "):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            rows.append([c.strip() for c in cells])
    return rows


def assert_safe_markdown(md: str) -> None:
    """No raw markup outside code (code blocks and code spans show their content literally)."""
    outside = re.sub(r"^(`{3,})\n.*?^\1$", "", md, flags=re.S | re.M)
    outside = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", outside)
    assert "<script" not in outside and "<img" not in outside and "<b>" not in outside
    # Every row of a table has as many cells as its header: no value split a cell.
    header_cols = None
    for line in md.splitlines():
        if line.startswith("|---"):
            assert header_cols == line.count("|") - 1
            continue
        if line.startswith("| "):
            n = len(re.split(r"(?<!\\)\|", line.strip())) - 2
            if header_cols is None:
                header_cols = n
            assert n == header_cols, line
        else:
            header_cols = None


def toned_spans(html: str) -> list[tuple[str, str]]:
    """(tone, text) of every coloured state in the HTML."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"data-tone='(\w+)'>([^<]*)</span>", html)]


# -- escaping -----------------------------------------------------------------------------------------


def test_markdown_escaping_of_inline_text() -> None:
    assert display._md("a|b") == "a\\|b"
    assert display._md("*x* _y_ [z]") == "\\*x\\* \\_y\\_ \\[z\\]"
    assert display._md("\\\\nas\\share") == "\\\\\\\\nas\\\\share"
    assert display._md("<script>") == "&lt;script&gt;"
    assert display._md("it's & \"q\"") == "it's &amp; \"q\""
    assert display._md("line1\nline2") == "line1 line2"
    assert display._md("a\x1bb") == "a\ufffdb"
    # Block markers matter only at the start of a line.
    assert display._md("1. x", line_start=True) == "1\\. x"
    assert display._md("# x", line_start=True) == "\\# x"
    assert display._md("192.0.2.1") == "192.0.2.1"


def test_markdown_code_spans_cannot_be_closed_by_their_content() -> None:
    assert display._md_code("a`b", table=False) == "``a`b``"
    assert display._md_code("``x", table=False) == "``` ``x ```"
    assert display._md_code("a|b", table=True) == "`a\\|b`"
    assert display._md_code("<script>", table=False) == "`<script>`"  # literal inside a code span


def test_tones_words_and_symbols() -> None:
    assert display.tone_of("expected: partition not attached (JOB-3)") == "neutral"
    assert display.tone_of("failed with 1: VSS error") == "bad"
    assert display.tone_of("matching") == "good"
    assert display.tone_of("missing") == "bad"
    assert display.tone_of("3 identical AT jobs (IDEM-1): deploy removes the extras") == "warn"
    assert display.tone_of("scheduled at 06:00 (AT)") == "change"
    assert display.tone_of("something else") is None
    html = display.table(["state"], [["matching"], ["FAILED"], ["plain"]])
    assert toned_spans(html) == [("good", "✔ matching"), ("bad", "✖ FAILED")]


# -- plan ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(PLANS.glob("*.yaml")), ids=lambda p: p.stem)
def test_plan_views_of_every_example(path: Path) -> None:
    plan = Plan.from_file(path)
    html = plan._repr_html_()
    text = assert_safe_html(html)
    md = plan._repr_markdown_()
    assert_safe_markdown(md)
    for node in plan.nodes:
        assert node.name in text and node.name in md
    for job in plan.jobs:
        assert job in text
    # The timeline is drawn inside the HTML view only.
    svg = re.search(r"<svg.*?</svg>", html, re.S)
    assert svg is not None
    ET.fromstring(svg.group(0))
    assert "<svg" not in md


def test_plan_view_shows_windows_sch2_and_failover_slot() -> None:
    plan = Plan.from_file(PLANS / "ws2012-wsb.yaml")
    md = plan._repr_markdown_()
    rows = {r[0]: r for r in md_rows(md)}
    shared = rows["`shared-daily`"]
    assert shared[4].startswith("03:00–04:00")
    assert shared[5].startswith("✔ 04:15–05:15")
    assert "SCH-2: starts 15 min after node-a's run ends" in shared[5]
    assert "✔ SCH-3: the failover slot 06:00–07:00 overlaps no daily window" in md
    assert "✔ no errors" in md


def _wsb_dict() -> dict[str, Any]:
    return yaml.safe_load((PLANS / "ws2012-wsb.yaml").read_text(encoding="utf-8"))


def test_plan_view_marks_sch3_overlap_and_errors() -> None:
    data = _wsb_dict()
    data["failover_backup"]["at"] = "03:30"
    plan = Plan.from_dict(data)
    html = plan._repr_html_()
    md = plan._repr_markdown_()
    assert ("bad", "✖ SCH-3: the failover slot overlaps shared-daily on node-a (03:00–04:00) during "
            "03:30–04:00") in toned_spans(html)
    assert "✖ errors: the plan is refused" in md
    assert "⚠ SCH-3 overlap: shared-daily" in html


def test_plan_view_shows_the_weekly_drill_and_its_overlaps() -> None:
    data = _wsb_dict()
    data["drill"] = {"weekly": {"day": "SUN", "at": "08:00"}}
    md = Plan.from_dict(data)._repr_markdown_()
    assert (
        "DRILL-2: every SUN, on both nodes, the weekly drill of local-daily 08:00–08:15, "
        "shared-daily 08:15–08:30"
    ) in md
    assert "✔ DRILL-2: no drill slot overlaps a backup window" in md
    data["drill"]["weekly"]["at"] = "05:00"  # node-b's shared-daily runs 04:15–05:15
    plan = Plan.from_dict(data)
    html = plan._repr_html_()
    assert ("bad", "✖ DRILL-2: the weekly drill of local-daily (SUN 05:00–05:15) overlaps shared-daily "
            "on node-b (04:15–05:15) during 05:00–05:15") in toned_spans(html)
    assert "⚠ DRILL-2 overlap: shared-daily" in html  # the timeline marks it too
    assert "DRILL-2" not in Plan.from_dict(_wsb_dict())._repr_markdown_()


def test_plan_view_escapes_hostile_paths() -> None:
    """Defence in depth: the plan refuses such an include or target when it loads (no Windows name
    holds < > " |), so the view is given them past validation, and must still show them as text."""
    data = _wsb_dict()
    loaded = Plan.from_dict(data)
    hostile_target = "\\\\nas\\<img src=x onerror=alert(1)>"
    for key, value in (("include", [*data["jobs"]["local-daily"]["include"], HOSTILE_PATH]),
                       ("target", hostile_target)):
        refused = copy.deepcopy(data)
        refused["jobs"]["local-daily"][key] = value
        with pytest.raises(PlanError, match=rf"jobs\.local-daily\.{key}"):
            Plan.from_dict(refused)
    include = [*loaded.jobs["local-daily"].include, HOSTILE_PATH]
    plan = unvalidated(loaded, "local-daily", include=include, target=hostile_target)
    html = plan._repr_html_()
    text = assert_safe_html(html)
    assert HOSTILE_PATH in text  # shown as text, exactly
    assert "<img src=x onerror=alert(1)>" in text
    md = plan._repr_markdown_()
    assert_safe_markdown(md)
    row = next(r for r in md_rows(md) if r[0] == "`local-daily`")
    assert len(row) == 6  # the | in the path did not split the cell
    assert "&lt;script&gt;alert(1)\\|x" in row[2]


# -- findings -----------------------------------------------------------------------------------------


def test_findings_is_a_list_with_views() -> None:
    plan = Plan.from_file(PLANS / "ws2003-ntbackup.yaml")
    found = plan.findings()
    assert isinstance(found, Findings) and isinstance(found, list)
    assert found == check(plan)
    assert json.loads(json.dumps([f.to_json() for f in found]))
    assert found.errors == []
    assert "Rule findings:" in found._repr_markdown_()
    assert len(md_rows(found._repr_markdown_())) == len(found) + 1


def test_findings_views_escape_messages() -> None:
    findings = Findings([
        Finding("SCH-3", "error", "node-a", "shared-daily", HOSTILE, hint="do <b>this</b> | that",
                field="failover_backup.at"),
        Finding("CAU-1", "info", None, None, "1. looks like a list"),
    ])
    html = findings._repr_html_()
    text = assert_safe_html(html)
    assert HOSTILE in text and "do <b>this</b> | that" in text
    assert ("bad", "✖ error") in toned_spans(html)
    assert ("bad", "✖ errors: the plan is refused") in toned_spans(html)
    md = findings._repr_markdown_()
    assert_safe_markdown(md)
    rows = md_rows(md)
    assert all(len(r) == 6 for r in rows)
    assert rows[1][0] == "✖ error" and rows[1][1] == "`SCH-3`"
    assert "1 error, 1 info" in md
    single = findings[0]._repr_markdown_()
    assert "SCH-3" in single and "<script" not in single
    assert_safe_html(findings[0]._repr_html_())


# -- rendered artifacts -------------------------------------------------------------------------------


def test_artifacts_views_list_files_schedules_and_contents() -> None:
    arts = Plan.from_file(PLANS / "ws2012-wsb.yaml").render()["node-b"]
    html = arts._repr_html_()
    text = assert_safe_html(html)
    for f in arts.files:
        assert f.path in text
        assert f.sha256[:12] in text
    for s in arts.schedules:
        assert s.command_line in text
    assert html.count("<details>") == len(arts.files)
    md = arts._repr_markdown_()
    assert "clpbackup-prod-db-shared-daily" in md and "04:15" in md
    assert md.count("```\n@echo off") >= 1


def test_artifacts_views_escape_file_names_and_contents() -> None:
    content = "@echo off\r\necho <script>alert(1)</script> | more\r\nrem ```` fence\r\n".encode("cp437")
    arts = NodeArtifacts(
        node="node-a", os="2012", scheduler="schtasks", codepage=437,
        files=(ArtifactFile("C:\\x\\<b>evil</b>|.bat", "backup-script", "j", "cp437", content),),
        schedules=(ScheduleEntry("t|<i>", "j", "daily", "01:00", "schtasks", ("schtasks",),
                                 "schtasks /TR \"a|b\" <x>", "a|b"),),
        notes=("note with <script> and | pipe",),
    )
    text = assert_safe_html(arts._repr_html_())
    assert "echo <script>alert(1)</script> | more" in text
    assert "C:\\x\\<b>evil</b>|.bat" in text
    md = arts._repr_markdown_()
    assert_safe_markdown(md)
    # The file is fenced with more backticks than it contains, so its ```` cannot close the fence.
    assert "`````\n@echo off\necho <script>alert(1)</script> | more\nrem ```` fence\n`````" in md
    for row in md_rows(md):
        assert len(row) == 6


# -- cluster results ----------------------------------------------------------------------------------


def _deploy(check: bool = False) -> ClusterResult[DeployResult]:
    a = DeployResult("node-a", check=check, changes=[
        Change("file", "C:\\clpbackup\\local-daily.bat", "create", after="ab" * 32),
        Change("schedule", "clpbackup-prod-db-local-daily", "create", after="daily 01:00 cmd /c x"),
        Change("file", "C:\\clpbackup\\shared-daily.bat", "unchanged"),
        Change("schedule", "clpbackup-prod-db-shared-daily", "unchanged"),
        Change("file", "C:\\clpbackup\\failover.bat", "update", before="cd" * 32, after="ef" * 32),
        Change("schedule", "AT 01:00 C:\\clpbackup\\old-job.bat", "delete", before="every day 01:00"),
    ])
    err = ConnectionFailed(f"cannot reach {HOSTILE}", node="node-b", hint="check | the <firewall>")
    return ClusterResult("deploy --check" if check else "deploy", {"node-a": a, "node-b": err})


def test_deploy_view_is_a_job_by_node_table() -> None:
    result = _deploy()
    md = result._repr_markdown_()
    assert_safe_markdown(md)
    rows = {r[0]: r for r in md_rows(md)}
    assert rows["job"] == ["job", "node-a", "node-b"]
    assert rows["`local-daily`"][1] == "● create 2"
    assert rows["`shared-daily`"][1] == "✔ unchanged · 2 item(s)"
    assert rows["`old-job`"][1] == "▲ delete 1"
    assert rows["(cluster-wide: failover.bat, start script)"][1] == "● update 1"
    assert rows["`local-daily`"][2].startswith("✖ FAILED · ConnectionFailed: \\[node-b\\] cannot reach")
    html = result._repr_html_()
    text = assert_safe_html(html)
    assert HOSTILE in text and "check | the <firewall>" in text
    assert ("bad", "✖ NOT OK") in toned_spans(html)
    # The changes table lists what changes, not what stays.
    assert "sha256 cdcdcdcdcdcd → efefefefefef" in text
    assert text.count("C:\\clpbackup\\shared-daily.bat") == 0


def test_deploy_check_view_says_would() -> None:
    md = _deploy(check=True)._repr_markdown_()
    rows = {r[0]: r for r in md_rows(md)}
    assert rows["`local-daily`"][1] == "● would create 2"
    assert md.startswith("**deploy --check** ✖ NOT OK")  # node-b failed


def test_deploy_view_of_a_clean_second_run() -> None:
    a = DeployResult("node-a", changes=[Change("file", "C:\\clpbackup\\j.bat", "unchanged")])
    b = DeployResult("node-b", changes=[Change("file", "C:\\clpbackup\\j.bat", "unchanged")])
    html = ClusterResult("deploy", {"node-a": a, "node-b": b})._repr_html_()
    assert toned_spans(html).count(("good", "✔ unchanged")) == 2
    assert ("good", "✔ ok") in toned_spans(html)
    assert "Changes" not in html


def _status() -> ClusterResult[StatusResult]:
    a = StatusResult(
        "node-a", os="2012", owner=True, schedule_service="Auto/Running",
        files={"C:\\clpbackup\\shared-daily.bat": "matching"},
        schedules=[
            ScheduleStatus("clpbackup-prod-db-shared-daily", "shared-daily", "daily", "matching", "schtasks",
                           "03:00", last_run="2024-06-01 03:00", last_result=0, verdict="last run succeeded"),
            ScheduleStatus("clpbackup-prod-db-local-daily", "local-daily", "daily", "missing", "schtasks",
                           "01:00", verdict="missing: run deploy"),
        ],
        versions={"shared-daily": "06/01/2024-03:00"},
        problems=[Problem("SCH-1", f"schedule {HOSTILE} is missing; run deploy", "node-a")],
    )
    b = StatusResult(
        "node-b", os="2012", owner=False, schedule_service="Auto/Running",
        files={"C:\\clpbackup\\shared-daily.bat": "different"},
        schedules=[
            ScheduleStatus("clpbackup-prod-db-shared-daily", "shared-daily", "daily", "matching", "schtasks",
                           "04:15", last_result=1, verdict="expected: partition not attached (JOB-3)"),
            ScheduleStatus("clpbackup-prod-db-local-daily", "local-daily", "daily", "matching", "schtasks",
                           "01:00", last_result=2147942402, verdict="failed with 2147942402: <VSS> | error"),
            ScheduleStatus("clpbackup-prod-db-shared-daily-once", None, "once", "one-shot", "schtasks",
                           verdict="one-shot backup"),
        ],
        versions={"shared-daily": None},
    )
    return ClusterResult("status", {"node-a": a, "node-b": b},
                         [Problem("JOB-1", "C:\\clpbackup\\shared-daily.bat differs between the nodes")])


def test_status_view_nodes_and_jobs() -> None:
    result = _status()
    md = result._repr_markdown_()
    assert_safe_markdown(md)
    rows = md_rows(md)
    nodes = {r[0]: r for r in rows if r[0].startswith("`node-")}
    assert nodes["`node-a`"][2].startswith("✔ owner")
    assert nodes["`node-b`"][2].startswith("○ standby")
    assert nodes["`node-b`"][5] == "✖ 1 different"
    jobs = {r[0]: r for r in rows if r[0] in ("`shared-daily`", "`local-daily`", "(not a plan job)")}
    # JOB-3: the standby's failed switchover run is expected, not an error.
    assert jobs["`shared-daily`"][2].startswith("○ matching")
    assert "expected: partition not attached (JOB-3)" in jobs["`shared-daily`"][2]
    assert "no backup version yet" in jobs["`shared-daily`"][2]
    assert jobs["`shared-daily`"][1].startswith("✔ matching")
    assert "newest version 06/01/2024-03:00" in jobs["`shared-daily`"][1]
    assert jobs["`local-daily`"][1].startswith("✖ missing")
    assert jobs["`local-daily`"][2].startswith("✖ matching")
    assert "&lt;VSS&gt; \\| error" in jobs["`local-daily`"][2]
    assert jobs["(not a plan job)"][2].startswith("○ one-shot")
    html = result._repr_html_()
    text = assert_safe_html(html)
    assert f"schedule {HOSTILE} is missing" in text
    assert ("neutral", "○ matching") in toned_spans(html)


def test_status_view_lists_the_failures_the_nodes_raised_alert_1() -> None:
    from clpbackup.results import NodeEvent

    result = _status()
    a = result["node-a"]
    assert isinstance(a, StatusResult)
    message = f"clpbackup ALERT-1 [101]: backup job local-daily failed on node-a, exit code 1; log {HOSTILE}"
    a.events = [NodeEvent("2024-06-01 01:00:07", 101, "backup-failed", "Error", message)]
    md = result._repr_markdown_()
    assert_safe_markdown(md)
    [row] = [r for r in md_rows(md) if r[1] == "2024-06-01 01:00:07"]
    assert row[0] == "`node-a`" and row[2].startswith("✖ 101") and "backup-failed" in row[2]
    text = assert_safe_html(result._repr_html_())
    assert "Failures the nodes raised (ALERT-1)" in text and "exit code 1; log" in text
    # no events: no table
    a.events = []
    assert "ALERT-1" not in result._repr_markdown_()


def test_generic_views_for_one_shots_and_runs() -> None:
    fo = ClusterResult("failover-backup", {
        "node-a": ScheduleResult("node-a", job="shared-daily", at="now",
                                 action="started now (clpbackup-prod-db-shared-daily-once)", changed=True),
        "node-b": ScheduleResult("node-b", job="shared-daily", at="now",
                                 action="not the owner: nothing to do"),
    }, notes=["owner: node-a (volume E: present)"])
    md = fo._repr_markdown_()
    rows = {r[0]: r for r in md_rows(md)}
    assert rows["`node-a`"][1].startswith("● started now")
    assert rows["`node-b`"][1] == "○ not the owner: nothing to do"
    assert "- owner: node-a (volume E: present)" in md
    refused = ClusterResult("failover-backup", {
        "node-a": ScheduleResult("node-a", job="j", action="refused",
                                 problems=[Problem("FO-2", "owner unknown | <b>", "node-a")]),
    })
    html = refused._repr_html_()
    assert ("bad", "✖ refused") in toned_spans(html)
    assert "owner unknown | <b>" in assert_safe_html(html)
    run = ClusterResult("run", {
        "node-a": RunResult("node-a", job="shared-daily", outcome="success", version="06/01/2024-03:00"),
        "node-b": RunResult("node-b", job="shared-daily", outcome="expected-failure", last_result=1),
    })
    spans = toned_spans(run._repr_html_())
    assert ("good", "✔ success") in spans and ("neutral", "○ expected-failure") in spans


def test_restore_views() -> None:
    src = RestoreSource("E:", "node-a", "shared-daily", "06/01/2024-03:00",
                        'wbadmin start recovery -version:06/01/2024-03:00 -itemType:Volume -items:E: | <x>',
                        steps=["stop the group <g>"],
                        candidates={"node-a": "06/01/2024-03:00", "node-b": None})
    text = assert_safe_html(src._repr_html_())
    assert "-items:E: | <x>" in text and "stop the group <g>" in text
    md = src._repr_markdown_()
    assert_safe_markdown(md)
    assert "✔ source found" in md
    none = RestoreSource("E:", None, None, None, None, problems=[Problem("RS-1", "no version | <y>")])
    assert ("bad", "✖ no source") in toned_spans(none._repr_html_())


def test_every_coloured_state_has_a_symbol_and_words() -> None:
    htmls = [
        _deploy()._repr_html_(), _status()._repr_html_(),
        Plan.from_file(PLANS / "ws2012-ja.yaml")._repr_html_(),
    ]
    symbols = {s for _, s in display._TONES.values()}
    for html in htmls:
        spans = toned_spans(html)
        assert spans
        for _tone, text in spans:
            symbol, _, words = text.partition(" ")
            assert symbol in symbols and words.strip(), text


# -- progress -----------------------------------------------------------------------------------------


def test_tqdm_progress_counts_finished_steps_from_threads() -> None:
    pytest.importorskip("tqdm")  # the test extra installs it; the next test covers its absence
    out = io.StringIO()
    with display.tqdm_progress(6, file=out, mininterval=0) as progress:
        events = [("node-a", "start"), ("node-b", "start"), ("node-a", "done"), ("node-b", "done"),
                  ("node-a", "running"), ("node-a", "success"), ("node-b", "error")]
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda e: progress(*e), events))
        assert progress.bar.n == 4
        assert progress.bar.total == 6
    assert "4/6" in out.getvalue()


def test_tqdm_progress_with_cluster_backup(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tqdm")
    from clpbackup.operations import ClusterBackup

    class Unreachable:
        def inspect(self, request: Any) -> Any:
            raise ConnectionFailed("no route to host")

        def close(self) -> None:
            pass

    monkeypatch.setenv("CLPBACKUP_PASSWORD", "not-used")
    progress = display.tqdm_progress(2, file=io.StringIO())
    cb = ClusterBackup(Plan.from_file(PLANS / "ws2012-wsb.yaml"),
                       session_factory=lambda plan, node: Unreachable(), progress=progress)
    result = cb.deploy(check=True)
    assert set(result.failed) == {"node-a", "node-b"}
    assert progress.bar.n == 2
    progress.close()


def test_tqdm_progress_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(display.ProgressUnavailable) as info:
        display.tqdm_progress(2)
    assert isinstance(info.value, ImportError) and isinstance(info.value, ClpBackupError)
    assert "pip install tqdm" in str(info.value)


def test_display_does_not_import_tqdm() -> None:
    # tqdm is optional: importing clpbackup's views must not need it.
    source = (ROOT / "clpbackup" / "display.py").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(from tqdm|import tqdm)", source, re.M)


def test_progress_printer() -> None:
    lines: list[str] = []
    p = display.progress_printer(lines.append)
    p("node-a", "done")
    assert lines == ["node-a: done"]


def test_result_views_copy_safely() -> None:
    # Views do not mutate what they show.
    result = _status()
    before = copy.deepcopy(result.to_json())
    result._repr_html_()
    result._repr_markdown_()
    assert result.to_json() == before
