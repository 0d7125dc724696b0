"""The property-based corpus of hostile plans, judged by Wine and by the simulator side by side.

The plans are the ones the unit and reliability tests already generate
(``tests/reliability/test_fuzz_plans.py``: a random valid plan — any OS, cp437 or cp932, AT or
schtasks, NTBackup or WSB — with one to three of the values a batch file carries replaced by hostile
text: cmd operators, ``%VAR%``, quotes, backslash runs, ``, ; =``, Japanese and other characters
outside the code page …). Each one is either refused at load or by a rule check (the pure fuzz test
checks that the refusal names the field), or accepted; an accepted plan's every node is then

* judged by Wine against the platform's Commands (``judge.judge_node``: every accepted value arrives
  unaltered, exit codes, JOB-3, schedule entries, FO-1), and
* run by the simulator and by Wine side by side (``differential.differential_node``): programs and
  argv, exit codes and files written must agree.

Budget: :func:`tests.reliability._profiles.fuzz` — ``ci`` (every CI run, derandomized) judges
:data:`CI_PLANS` accepted plans; ``CLPBACKUP_FUZZ=long`` 25 times as many, new inputs each run.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from clpbackup.errors import PlanError
from clpbackup.plan import Plan
from tests.reliability._profiles import fuzz
from tests.reliability.test_fuzz_plans import _BATCH_VALUES, base_plans, error_findings, mutate
from tests.wine.differential import differential_node
from tests.wine.judge import judge_node, node_case
from tests.wine.wine import WinePrefix

pytestmark = pytest.mark.wine

#: Accepted plans judged per CI run (each takes about 20 s: two nodes, two judges).
CI_PLANS = 6

#: What happened to the corpus in this session (printed at the end; docs/reliability.md figures).
STATS: Counter[str] = Counter()


@fuzz(CI_PLANS)
@given(base=base_plans(), data=st.data())
def test_hostile_plans_are_refused_or_run_under_wine_exactly_as_built_and_as_simulated(
    base: dict[str, Any], data: st.DataObject, wine_prefixes: dict[int, WinePrefix]
) -> None:
    mutated, changes = data.draw(mutate(base, only=_BATCH_VALUES), label="mutated plan")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLPBACKUP_PASSWORD", "Wine-Judge-Passw0rd")
        try:
            plan = Plan.from_dict(mutated)
        except PlanError:
            STATS["refused at load"] += 1
            assume(False)
            return
        if error_findings(plan):
            STATS["refused by a rule check"] += 1
            assume(False)
            return
        # (a scripts_dir Win32 would normalize — a ".", ".." or trailing dot/space step — is refused
        # at load since the long plan fuzz: the plan names no other path the judge writes)
        # the simulator's wbadmin does not model * and ? in file names ("not simulated")
        wildcard = any("*" in v or "?" in v for j in plan.jobs.values() for v in [*j.include, *j.exclude])
        problems: list[str] = []
        for node in plan.nodes:
            case = node_case(plan, node.name)
            prefix = wine_prefixes[case.codepage]
            verdict = judge_node(prefix, case)
            problems += verdict.problems
            STATS["files judged"] += verdict.files
            STATS["command lines judged"] += verdict.runs
            STATS["W4 retries"] += len(verdict.retries)
            for note in verdict.retries:
                print(f"W4 retry: {note}")
            if not wildcard:
                diff = differential_node(prefix, case)
                problems += diff.items
                STATS["W4 retries"] += len(diff.retries)
                for note in diff.retries:
                    print(f"W4 retry: {note}")
                STATS["command lines run by both judges"] += diff.runs
                STATS["program runs compared"] += diff.tools
            STATS[f"nodes in cp{case.codepage}"] += 1
        STATS["accepted and judged"] += 1
        event("accepted: " + ", ".join(sorted({m.field.split(".")[0] for m in changes})))
        assert problems == [], "\n".join(problems)


def test_the_corpus_judged_accepted_plans_on_both_code_pages() -> None:
    """The run above was not all refusals (runs after it, in file order; ``-s`` prints the figures
    for docs/reliability.md)."""
    print("\nWine corpus:", dict(sorted(STATS.items())))
    assert STATS["accepted and judged"] >= CI_PLANS
    assert STATS["program runs compared"] > 0 and STATS["nodes in cp932"] > 0
