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

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from clpbackup.plan import Plan
from tests.wine.differential import differential_node
from tests.wine.judge import judge_node, node_case
from tests.wine.wine import BIN_DIR, Step, WinePrefix

pytestmark = pytest.mark.wine

PLAN = Path(__file__).resolve().parents[2] / "examples" / "plans" / "ws2003-ntbackup.yaml"


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "Wine-Judge-Passw0rd")


@contextmanager
def missing_during(
    prefix: WinePrefix,
    program: str,
    when: Callable[[int, list[Step]], bool],
) -> Iterator[list[int]]:
    """``program``'s recorder is away from the start of each launch ``when(n, steps)`` picks (n counts
    from 1) until the start of the next launch (a detached script started by a launch runs on after
    it returns); yields the number of launches made."""
    exe = prefix.unix(f"{BIN_DIR}\\{program}.exe")
    away = exe.with_suffix(".away")
    launches: list[int] = [0]
    real = prefix.launch

    def launch(steps: list[Step]):  # type: ignore[no-untyped-def]
        launches[0] += 1
        if away.exists():
            away.rename(exe)
        if when(launches[0], steps):
            exe.rename(away)
        return real(steps)

    # a patch of its own: undoing the test's monkeypatch would also drop the password fixture's setenv
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(prefix, "launch", launch)
        try:
            yield launches
        finally:
            if away.exists():
                away.rename(exe)


def first(n: int, _steps: list[Step]) -> bool:
    return n == 1


def every(_n: int, _steps: list[Step]) -> bool:
    return True


def failover_launches(pick: Callable[[int], bool]) -> Callable[[int, list[Step]], bool]:
    """A picker of the launches that run the start fragment on FAILOVER: ``pick(k)`` for the k-th."""
    seen = [0]

    def when(_n: int, steps: list[Step]) -> bool:
        if not any(step.env.get("CLP_EVENT") == "FAILOVER" for step in steps):
            return False
        seen[0] += 1
        return pick(seen[0])

    return when


def _case(name: str = "fs-01"):  # type: ignore[no-untyped-def]
    plan = Plan.from_file(PLAN)
    case = node_case(plan, name)
    assert any(b"start /wait rsm " in s.file.content for s in case.scripts), "the plan needs NT-1's rsm"
    return case


def test_the_judge_runs_a_start_flake_again_and_passes(wine: dict[int, WinePrefix]) -> None:
    case = _case()
    prefix = wine[case.codepage]
    with missing_during(prefix, "rsm", first) as launches:
        verdict = judge_node(prefix, case)
    assert verdict.problems == []
    assert launches[0] >= 2 and verdict.retries
    assert all("left no record; run again (W4)" in r or "START run again" in r for r in verdict.retries)
    assert any("shared-daily.bat" in r for r in verdict.retries)


def test_the_differential_runs_a_start_flake_again_and_agrees(wine: dict[int, WinePrefix]) -> None:
    case = _case()
    prefix = wine[case.codepage]
    with missing_during(prefix, "rsm", first):
        diff = differential_node(prefix, case)
    assert diff.items == []
    assert diff.retries and all("(W4)" in r for r in diff.retries)


def test_a_flake_that_stays_fails_the_judges(wine: dict[int, WinePrefix]) -> None:
    case = _case()
    prefix = wine[case.codepage]
    with missing_during(prefix, "rsm", every):
        verdict = judge_node(prefix, case)
    assert any("programs run" in p and "rsm" in p for p in verdict.problems), verdict.problems


def test_a_program_cmd_starts_itself_is_retried_too_and_a_lasting_failure_still_fails(
    wine: dict[int, WinePrefix],
) -> None:
    """W4 also hits a program cmd.exe starts itself (a long corpus run: failover.bat's ``at`` left no
    record and the file raised ALERT-1): ntbackup away for the first launch is run again and agrees;
    away for every launch it fails the differential check, retried once, never hidden."""
    case = _case()
    prefix = wine[case.codepage]
    with missing_during(prefix, "ntbackup", first):
        diff = differential_node(prefix, case)
    assert diff.items == [] and diff.retries
    with missing_during(prefix, "ntbackup", every):
        diff = differential_node(prefix, case)
    assert any("ntbackup" in item for item in diff.items), diff.items
    assert diff.retries  # taken once, and the second run disagreed as well


def test_the_failover_script_started_on_failover_is_run_again_when_its_at_left_no_record(
    wine: dict[int, WinePrefix],
) -> None:
    """The long corpus run's case: on FAILOVER the started failover.bat could not start ``at`` and
    raised ALERT-1 instead of scheduling the one-shot (FO-2); the judge runs the fragment once more
    and that run agrees. With at.exe away for every FAILOVER launch the judge still fails."""
    case = _case()
    assert case.failover is not None and any(c.program == "at" for c in case.failover.expected)
    prefix = wine[case.codepage]
    with missing_during(prefix, "at", failover_launches(lambda k: k == 1)):
        verdict = judge_node(prefix, case)
    assert verdict.problems == []
    fo_retry = "FAILOVER (the started failover script): a program left no record"
    assert any(fo_retry in r for r in verdict.retries), verdict.retries
    with missing_during(prefix, "at", failover_launches(lambda k: True)):
        verdict = judge_node(prefix, case)
    lasting = [p for p in verdict.problems if "FAILOVER (the started failover script)" in p]
    assert lasting and "clplogcmd" in lasting[0], verdict.problems
