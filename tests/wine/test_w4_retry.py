"""W4's retry, reproduced on demand: both judges run a batch file once more when a program it starts
through START left no record, and only then.

W4 itself is intermittent (Wine's START answers "File not found." under load; stop 20's CI met it on
``start /wait rsm refresh …`` in the differential corpus). Its symptom can be made at will: with the
``rsm.exe`` recorder moved away, Wine's START does not find it and the batch file runs on, exactly
as in CI. The recorder comes back for the judges' second launch, as the flake goes away on a retry.
A missing program that is not started through START (``ntbackup``) is a real disagreement and must
still fail both judges.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from clpbackup.plan import Plan
from tests.wine.differential import differential_node
from tests.wine.judge import judge_node, node_case
from tests.wine.wine import BIN_DIR, WinePrefix

pytestmark = pytest.mark.wine

PLAN = Path(__file__).resolve().parents[2] / "examples" / "plans" / "ws2003-ntbackup.yaml"


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "Wine-Judge-Passw0rd")


@contextmanager
def missing_on_first_launch(
    prefix: WinePrefix, program: str, monkeypatch: pytest.MonkeyPatch, *, every_launch: bool = False
) -> Iterator[list[int]]:
    """``program``'s recorder is away during the prefix's first launch (or every launch); yields the
    number of launches made."""
    exe = prefix.unix(f"{BIN_DIR}\\{program}.exe")
    away = exe.with_suffix(".away")
    launches: list[int] = [0]
    real = prefix.launch

    def launch(steps):  # type: ignore[no-untyped-def]
        launches[0] += 1
        if launches[0] == 1 or every_launch:
            exe.rename(away)
        try:
            return real(steps)
        finally:
            if away.exists():
                away.rename(exe)

    monkeypatch.setattr(prefix, "launch", launch)
    try:
        yield launches
    finally:
        monkeypatch.undo()


def _case(name: str = "fs-01"):  # type: ignore[no-untyped-def]
    plan = Plan.from_file(PLAN)
    case = node_case(plan, name)
    assert any(b"start /wait rsm " in s.file.content for s in case.scripts), "the plan needs NT-1's rsm"
    return case


def test_the_judge_runs_a_start_flake_again_and_passes(
    wine: dict[int, WinePrefix], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _case()
    prefix = wine[case.codepage]
    with missing_on_first_launch(prefix, "rsm", monkeypatch) as launches:
        verdict = judge_node(prefix, case)
    assert verdict.problems == []
    assert launches[0] >= 2 and verdict.retries
    assert all("left no record; run again (W4)" in r or "START run again" in r for r in verdict.retries)
    assert any("shared-daily.bat" in r for r in verdict.retries)


def test_the_differential_runs_a_start_flake_again_and_agrees(
    wine: dict[int, WinePrefix], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _case()
    prefix = wine[case.codepage]
    with missing_on_first_launch(prefix, "rsm", monkeypatch):
        diff = differential_node(prefix, case)
    assert diff.items == []
    assert diff.retries and all("(W4)" in r for r in diff.retries)


def test_a_flake_that_stays_fails_the_judges(
    wine: dict[int, WinePrefix], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _case()
    prefix = wine[case.codepage]
    with missing_on_first_launch(prefix, "rsm", monkeypatch, every_launch=True):
        verdict = judge_node(prefix, case)
    assert any("programs run" in p and "rsm" in p for p in verdict.problems), verdict.problems


def test_a_missing_backup_tool_is_never_retried(
    wine: dict[int, WinePrefix], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _case()
    prefix = wine[case.codepage]
    with missing_on_first_launch(prefix, "ntbackup", monkeypatch) as launches:
        diff = differential_node(prefix, case)
    assert diff.retries == []
    assert any("ntbackup" in item for item in diff.items), diff.items
    assert launches[0] == 2  # the attached phase and the JOB-3 phase, no retry launch
