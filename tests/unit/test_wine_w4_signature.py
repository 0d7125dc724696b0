"""The Wine judge's W4 retry is taken only on W4's exact signature (tests/wine/judge.py).

W4 (docs/windows-facts.md): under load Wine's START sometimes answers "File not found.", so a program a
batch file starts with ``start /wait`` leaves no record while the rest of the file runs on. Stop 20's
CI met it in the differential corpus (``rsm`` of NT-1 missing, ``ping`` and ``ntbackup`` there). The
judges run such a step once more; these tests pin that nothing else is retried, so a real
disagreement (a missing ntbackup, an extra program, another order) still fails the judge. They need
no Wine: the check is pure.
"""

from __future__ import annotations

import pytest

from clpbackup.artifacts import ArtifactFile
from tests.wine.judge import started_programs, w4_dropped

NT1 = frozenset({"rsm"})


def test_the_stop_20_run_is_w4():
    # what CI printed: the simulator ran rsm, ping, ntbackup; Wine ping, ntbackup
    assert w4_dropped(["ping", "ntbackup"], ["rsm", "ping", "ntbackup"], NT1)


@pytest.mark.parametrize(
    ("got", "want"),
    [
        (["rsm", "ping", "ntbackup"], ["rsm", "ping", "ntbackup"]),  # agreement: nothing to retry
        (["rsm", "ping"], ["rsm", "ping", "ntbackup"]),  # the backup itself missing
        (["ping", "ntbackup", "eventcreate"], ["rsm", "ping", "ntbackup"]),  # one too many
        (["ntbackup", "ping"], ["rsm", "ping", "ntbackup"]),  # another order
        ([], ["wbadmin"]),  # nothing ran, and nothing was started by START
        (["rsm", "ping", "ntbackup"], ["ping", "ntbackup"]),  # Wine ran more than the simulator
    ],
)
def test_anything_else_is_a_disagreement(got: list[str], want: list[str]):
    assert not w4_dropped(got, want, NT1)


def test_without_start_lines_nothing_is_retried():
    assert not w4_dropped(["ping", "ntbackup"], ["rsm", "ping", "ntbackup"], frozenset())


def test_started_programs_reads_the_files_start_lines():
    content = (
        b'@echo off\r\nstart /wait rsm refresh /LF"HP DAT72"\r\nping -n 61 127.0.0.1 > nul\r\n'
        b'ntbackup backup "@C:\\clpbackup\\j.bks"\r\n'
        b'if "%CLP_EVENT%" == "FAILOVER" start "" cmd /c "C:\\clpbackup\\failover.bat"\r\n'
    )
    f = ArtifactFile(
        path="C:\\clpbackup\\j.bat", role="backup-script", job="j", encoding="cp437", content=content
    )
    assert started_programs(f) == {"rsm"}
