"""Every example plan, every node, every rendered file and schedule entry, judged by Wine.

For each node, in a Wine prefix of its code page (cp437 en-US, cp932 ja-JP): each batch file is run
the way its scheduler runs it (the schedule entry's run string through CreateProcessW; files without
an entry through ``cmd /c "<path>"``) with the recorded tools exiting 0 and then failing, and each
tool must receive exactly the platform's ``Command`` (argv, and the raw line for programs that parse
their own); the exit code must come through; without the switchover volumes the switchover jobs exit
303 and run nothing (JOB-3); each schedule entry's command line must deliver its argv to
schtasks/at; the start fragment does nothing on START and on FAILOVER starts failover.bat and
returns at once (FO-1). See ``tests/wine/judge.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clpbackup.plan import Plan
from tests.wine.judge import judge_node, node_case
from tests.wine.wine import WinePrefix

pytestmark = pytest.mark.wine

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "plans").glob("*.yaml"))


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "Wine-Judge-Passw0rd")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_plan_runs_under_wine_as_the_platform_built_it(
    path: Path, wine: dict[int, WinePrefix]
) -> None:
    plan = Plan.from_file(path)
    problems: list[str] = []
    for node in plan.nodes:
        case = node_case(plan, node.name)
        verdict = judge_node(wine[case.codepage], case)
        assert verdict.files == len(case.art.files) and verdict.runs > 0
        problems += verdict.problems
        for note in verdict.retries:
            print(f"W4 retry: {note}")
    assert problems == [], "\n".join(problems)
