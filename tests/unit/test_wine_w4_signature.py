"""The Wine judge's W4 retry is taken only on W4's signature (tests/wine/judge.py).

W4 (docs/windows-facts.md): under load Wine sometimes fails to start a program — START answers "File
not found.", or cmd.exe's own CreateProcess fails — so that program leaves no record while the rest of
the batch file runs on; a failed line may send the file into its failure branch (ALERT-1). CI met it at
stop 20 (``rsm`` of NT-1 missing, ``ping`` and ``ntbackup`` there) and a long corpus run met it in
failover.bat (the ``at`` that schedules the one-shot missing, ``clplogcmd`` and ``eventcreate`` run
instead). The judges run such a step once more, and the second run must agree. These tests pin that
nothing else is retried. They need no Wine: the check is pure.
"""

from __future__ import annotations

import pytest

from tests.wine.judge import w4_dropped


def test_the_stop_20_run_is_w4():
    # what CI printed: the simulator ran rsm, ping, ntbackup; Wine ping, ntbackup
    assert w4_dropped(["ping", "ntbackup"], ["rsm", "ping", "ntbackup"])


def test_the_long_corpus_failover_run_is_w4():
    # failover.bat: at's listing, then `at 09:43 …` failed to start: the failure branch raised ALERT-1
    assert w4_dropped(["at", "clplogcmd", "eventcreate"], ["at", "at"])


@pytest.mark.parametrize(
    ("got", "want"),
    [
        (["rsm", "ping", "ntbackup"], ["rsm", "ping", "ntbackup"]),  # agreement: nothing to retry
        (["ping", "ntbackup", "wbadmin"], ["rsm", "ping", "ntbackup"]),  # a program not expected
        (["ntbackup", "ping"], ["rsm", "ping", "ntbackup"]),  # another order
        # an alert, nothing missing
        (["rsm", "ping", "ntbackup", "eventcreate"], ["rsm", "ping", "ntbackup"]),
        (["rsm", "ping", "ntbackup"], ["ping", "ntbackup"]),  # Wine ran more than the simulator
        (["eventcreate", "at"], ["at", "at"]),  # the alert before a program that agrees
    ],
)
def test_anything_else_is_a_disagreement(got: list[str], want: list[str]):
    assert not w4_dropped(got, want)
