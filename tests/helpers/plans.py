"""The example plans the end-to-end suites run on: every personality of the guide and the newer
Windows (2003 NTBackup + AT, 2008 R2 WSB + AT, 2012 / 2019 WSB + schtasks) and the Japanese pairs
(code page 932), keyed by the test ID each suite shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clpbackup.plan import Plan

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plans"
PLANS = {
    "2003-ntbackup-at": "ws2003-ntbackup.yaml",
    "2008r2-wsb-at": "ws2008r2-wsb.yaml",
    "2012-wsb-schtasks": "ws2012-wsb.yaml",
    "2012-ja-JP": "ws2012-ja.yaml",
    "2019-wsb-schtasks": "ws2019-wsb.yaml",
    "2016-ja-JP": "ws2016-ja.yaml",
}


def unvalidated(plan: Plan, job: str, **fields: Any) -> Plan:
    """``plan`` with ``fields`` of ``job`` replaced WITHOUT validation: how the defence-in-depth tests
    of the lower layers (display escaping, render's QUOTE checks) reach them with a value the plan
    itself refuses when it loads (an include holding ``<``, ``>``, ``"`` or ``|``, for one)."""
    jobs = dict(plan.jobs)
    jobs[job] = plan.jobs[job].model_copy(update=fields)
    return plan.model_copy(update={"jobs": jobs})
