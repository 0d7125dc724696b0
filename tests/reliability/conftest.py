"""Reporting for the reliability tests: the fault sweep's table and totals, the load test's figures.

Tests append what they found to session-wide lists (``sweep_records``, ``load_figures``); at the
end of the run :func:`pytest_terminal_summary` prints the table and the totals — without ``-s``
too, since it writes to the terminal reporter, not to a captured stream — and writes the same text
to ``<basetemp>/fault-sweep.txt`` (and ``load.txt``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import _profiles  # noqa: F401  (Hypothesis profiles ci/long, for --hypothesis-profile)

_RECORDS = pytest.StashKey[list[Any]]()
_LOAD = pytest.StashKey[list[str]]()
_BASE = pytest.StashKey[Path]()

#: the short names the table uses for the outcome on the faulted node
_SHORT = {
    "ok": "ok",
    "AuthenticationFailed": "Auth",
    "ConnectionFailed": "Conn",
    "NodeTimeout": "Time",
    "RemoteCommandFailed": "Cmd",
    "ParseError": "Parse",
    "OwnerUnknown": "Owner",
    "PreflightFailed": "Pre",
}


@pytest.fixture(scope="session")
def sweep_records(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """Where the fault sweep's cases (``CaseRecord``) go, for the summary."""
    request.config.stash[_BASE] = tmp_path_factory.getbasetemp()
    return request.config.stash.setdefault(_RECORDS, [])


@pytest.fixture(scope="session")
def load_figures(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Lines the load test reports in the summary."""
    request.config.stash[_BASE] = tmp_path_factory.getbasetemp()
    return request.config.stash.setdefault(_LOAD, [])


def _cell(record: Any) -> str:
    text = _SHORT.get(str(record.outcome), str(record.outcome))
    if record.violations:
        text += "!"
    return text


def sweep_table(records: Sequence[Any]) -> str:
    """The table (plan, operation, node, fault x request index -> outcome) and the totals."""
    rows: dict[tuple[str, str, str, str], dict[int, str]] = defaultdict(dict)
    for r in records:
        rows[(r.plan, r.op, r.node, r.fault)][r.index] = _cell(r)
    width = max((max(cells) for cells in rows.values()), default=0)
    indices = "".join(f"{i:>6}" for i in range(1, width + 1))
    head = f"{'plan':7}{'operation':17}{'node':8}{'fault':9}{indices}"
    lines = [head, "-" * len(head)]
    for (plan, op, node, fault), cells in rows.items():
        body = "".join(f"{cells.get(i, '.'):>6}" for i in range(1, width + 1))
        lines.append(f"{plan:7}{op:17}{node:8}{fault:9}{body}")
    outcomes = Counter(r.outcome for r in records)
    errors = {k: v for k, v in outcomes.items() if k != "ok"}
    violations = [f"  {r.label}: {v}" for r in records for v in r.violations]
    looked = sum(1 for r in records if r.rerun.startswith("looked"))
    per_fault = Counter(r.fault for r in records)
    survived = Counter(r.fault for r in records if r.outcome == "ok")
    lines += [
        "",
        "ok = success despite the fault (read retried, or the node read again after a lost answer);",
        "Auth/Conn/Time = AuthenticationFailed/ConnectionFailed/NodeTimeout for the faulted node alone;",
        "'.' = index not swept; '!' = an invariant broke (listed below).",
        "index: 1 pool Create, 2 its Receive, 3 inspect Command, 4 its Receive, 5 apply Command,",
        "6 its Receive, 7 Delete; a read-only call: 5 = Delete; run_backup: 7-8 the poll, 9 Delete.",
        "",
        f"cases: {len(records)}; success despite the fault: {outcomes.get('ok', 0)}; typed error for the "
        f"faulted node only: {sum(errors.values())}"
        + (f" ({', '.join(f'{k} {v}' for k, v in sorted(errors.items()))})" if errors else ""),
        "per fault (success/cases): "
        + ", ".join(f"{f} {survived[f]}/{n}" for f, n in sorted(per_fault.items())),
        f"re-runs converged: {sum(1 for r in records if not r.violations)}/{len(records)} "
        f"(of which {looked} after status showed the backup had run)",
        f"invariant violations (duplicate schedule, half-written file, backup twice, foreign exception, "
        f"other node hurt, no convergence): {len(violations)}",
        f"time: {sum(r.seconds for r in records):.0f} s of cases",
    ]
    lines += violations
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    records = config.stash.get(_RECORDS, [])
    load = config.stash.get(_LOAD, [])
    if not records and not load:
        return
    base = config.stash[_BASE]
    if records:
        text = sweep_table(records)
        terminalreporter.section("fault sweep")
        terminalreporter.write_line(text)
        (base / "fault-sweep.txt").write_text(text + "\n", encoding="utf-8")
    if load:
        terminalreporter.section("load")
        for line in load:
            terminalreporter.write_line(line)
        (base / "load.txt").write_text("\n".join(load) + "\n", encoding="utf-8")
