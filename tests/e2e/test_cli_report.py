"""``clpbackup status --format html|md --out FILE``: the report to hand over, from the real entry point.

The status is read from a simulated cluster (real pypsrp over HTTP) after a deploy and a day of
schedules, so the report holds last and next runs and versions, not only the plan.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clpbackup import ClusterBackup
from clpbackup.testing.simulate_cli import plan_yaml

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "examples" / "plans" / "ws2012-wsb.yaml"
PASSWORD = "Rep0rt-Passw0rd!"


def clp(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clpbackup", *argv], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


@pytest.fixture
def deployed(sim_cluster: Callable[..., Any], tmp_path: Path) -> Path:
    sim = sim_cluster(PLAN, password=PASSWORD)
    with ClusterBackup(sim.plan) as cb:
        assert cb.deploy().ok
    sim.advance(hours=24)
    path = tmp_path / "plan.yaml"
    path.write_text(plan_yaml(sim.plan), encoding="utf-8")
    return path


def test_status_html_report_is_a_standalone_page(deployed: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    proc = clp("status", str(deployed), "--format", "html", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and f"wrote {out} (html report)" in proc.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<meta charset='utf-8'>" in page
    assert "clpbackup status of cluster" in page
    for fact in ("node-a", "node-b", "last run", "next run", "newest version", "Rule findings",
                 "Jobs × nodes: schedule, last run, newest version", "switchover partition attached"):
        assert fact in page, fact
    # The timeline is embedded, well-formed, and trimmed to the hours that hold a run.
    svg = page[page.index("<svg"):page.index("</svg>") + len("</svg>")]
    root = ET.fromstring(svg)
    assert "01:00–07:00, the hours that hold a run" in (root.get("aria-label") or "")
    assert "src=" not in page and "<link" not in page  # loads nothing: it reads the same offline


def test_status_md_report_to_stdout_and_to_a_file(deployed: Path, tmp_path: Path) -> None:
    proc = clp("status", str(deployed), "--format", "md")
    assert proc.returncode == 0, proc.stderr
    md = proc.stdout
    assert md.startswith("# clpbackup status of cluster")
    assert "| job | node-a | node-b |" in md and "last run" in md and "next run" in md
    assert "**24-hour timeline (the nodes' local time)**" in md
    assert "- node-b: shared-daily (switchover) daily 04:15–05:15, 60 min" in md
    out = tmp_path / "report.md"
    proc = clp("status", str(deployed), "--format", "md", "--out", str(out))
    assert proc.returncode == 0 and proc.stdout == ""
    body = out.read_text(encoding="utf-8")
    # Same report but for the minute it was generated at.
    assert body.splitlines()[1:] == md.splitlines()[1:]


def test_status_report_of_a_node_with_problems_exits_1_and_is_still_written(
    sim_cluster: Callable[..., Any], tmp_path: Path
) -> None:
    sim = sim_cluster(PLAN, password=PASSWORD)  # nothing deployed: files and schedules missing
    path = tmp_path / "plan.yaml"
    path.write_text(plan_yaml(sim.plan), encoding="utf-8")
    out = tmp_path / "report.html"
    proc = clp("status", str(path), "--format", "html", "--out", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "NEEDS ATTENTION" in proc.stderr
    page = out.read_text(encoding="utf-8")
    assert "problem(s)" in page and "missing" in page


def test_status_report_unwritable_out_exits_2(deployed: Path, tmp_path: Path) -> None:
    out = tmp_path / "no-such-dir" / "report.html"
    proc = clp("status", str(deployed), "--format", "html", "--out", str(out))
    assert proc.returncode == 2
    assert f"cannot write {out}" in proc.stderr and "Traceback" not in proc.stderr
