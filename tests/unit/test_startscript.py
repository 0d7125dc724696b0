"""The start-script block (FO-1): clpbackup's lines only, everything else untouched."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clpbackup.startscript import BEGIN, END, StartScriptError, find_block, remove, splice

FRAGMENT = (
    f'{BEGIN}\r\nif "%CLP_EVENT%" == "FAILOVER" start "" cmd /c "C:\\clpbackup\\failover.bat"\r\n{END}\r\n'
)
NEC_SAMPLE = (
    'cd "%CLP_SCRIPT_PATH%"\r\n'
    'IF "%CLP_EVENT%" == "START" GOTO NORMAL\r\n'
    'IF "%CLP_EVENT%" == "FAILOVER" GOTO FAILOVER\r\n'
    ":NORMAL\r\n"
    'ARMBCAST /MSG "started" /A\r\n'
    ":EXIT\r\n"
    "exit 0\r\n"
)


def test_block_is_inserted_before_the_first_exit_and_other_lines_kept() -> None:
    out = splice(NEC_SAMPLE, FRAGMENT)
    lines = out.split("\r\n")
    assert lines.index(BEGIN) < lines.index("exit 0")
    assert out.replace(FRAGMENT, "") == NEC_SAMPLE


def test_splice_is_idempotent() -> None:
    once = splice(NEC_SAMPLE, FRAGMENT)
    assert splice(once, FRAGMENT) == once


def test_changed_fragment_replaces_the_old_block_in_place() -> None:
    once = splice(NEC_SAMPLE, FRAGMENT)
    new_fragment = FRAGMENT.replace("failover.bat", "other.bat")
    twice = splice(once, new_fragment)
    assert "other.bat" in twice and "failover.bat" not in twice
    assert twice.count(BEGIN) == 1
    assert remove(twice) == NEC_SAMPLE


def test_missing_script_becomes_the_fragment() -> None:
    assert splice(None, FRAGMENT) == FRAGMENT


@pytest.mark.parametrize(
    "text", [f"{BEGIN}\r\necho\r\n", f"{END}\r\n{BEGIN}\r\n", f"{BEGIN}\r\n{END}\r\n{BEGIN}\r\n{END}\r\n"]
)
def test_damaged_block_is_refused(text: str) -> None:
    with pytest.raises(StartScriptError):
        splice(text, FRAGMENT)


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30), max_size=12))
def test_foreign_lines_survive_splice_and_remove(lines: list[str]) -> None:
    lines = [line for line in lines if "clpbackup" not in line.lower()]
    text = "\r\n".join(lines) + "\r\n" if lines else ""
    spliced = splice(text, FRAGMENT)
    assert find_block(spliced.replace("\r\n", "\n").split("\n")) is not None
    kept = [line for line in remove(spliced).replace("\r\n", "\n").split("\n") if line]
    assert kept == [line for line in lines if line]
