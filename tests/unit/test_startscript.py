"""The start-script block (FO-1): clpbackup's lines only, where every run passes, other bytes untouched."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clpbackup.startscript import (
    BEGIN,
    END,
    StartScriptError,
    block_state,
    find_block,
    insertion_point,
    remove,
    splice,
    split_lines,
)
from clpbackup.testing.model import SimulatedWindows

FRAGMENT = (
    f'{BEGIN}\r\nif "%CLP_EVENT%" == "FAILOVER" start "" cmd /c "C:\\clpbackup\\failover.bat"\r\n{END}\r\n'
).encode("ascii")

# NEC's usual shape: CLP_EVENT branches by GOTO, an error branch with EXIT /B 1 before :NORMAL.
ERROR_BRANCH = (
    b"@echo off\r\n"
    b"rem start.bat of failover1\r\n"
    b"\r\n"
    b'cd "%CLP_SCRIPT_PATH%"\r\n'
    b'IF "%CLP_EVENT%" == "START" GOTO NORMAL\r\n'
    b'IF "%CLP_EVENT%" == "FAILOVER" GOTO NORMAL\r\n'
    b"GOTO ERROR\r\n"
    b":ERROR\r\n"
    b"EXIT /B 1\r\n"
    b":NORMAL\r\n"
    b"rem applications\r\n"
    b"EXIT /B 0\r\n"
)
# exit inside a parenthesised if: the old placement put the block inside the parentheses
EXIT_IN_IF = (
    b"@echo off\r\n"
    b'if "%CLP_DISK%" == "FAILURE" (\r\n'
    b"  echo disk failure\r\n"
    b"  exit /b 1\r\n"
    b")\r\n"
    b"echo started\r\n"
)
# a line that starts with "exit" but is a batch file: run without call it never returns
EXIT_HANDLER = (
    b"@echo off\r\n"
    b'IF "%CLP_EVENT%" == "FAILOVER" GOTO FO\r\n'
    b"GOTO END\r\n"
    b":FO\r\n"
    b"C:\\ops\\exit_handler.bat\r\n"
    b":END\r\n"
)
# labels and GOTO only, no exit anywhere: the old placement appended the block after :EOF's jump
GOTO_ONLY = (
    b"::  start script\r\n"
    b'IF "%CLP_EVENT%" == "FAILOVER" GOTO :EOF\r\n'
    b"GOTO NORMAL\r\n"
    b":NORMAL\r\n"
    b"echo normal\r\n"
)
SHAPES = {
    "error-branch": ERROR_BRANCH,
    "exit-in-if": EXIT_IN_IF,
    "exit-handler": EXIT_HANDLER,
    "goto-only": GOTO_ONLY,
}
#: lines before the block in each shape (leading @echo off / rem / :: / blank lines only)
LEADING = {"error-branch": 3, "exit-in-if": 1, "exit-handler": 1, "goto-only": 1}


def _block_at(data: bytes) -> int:
    block = find_block(split_lines(data))
    assert block is not None
    return block[0]


@pytest.mark.parametrize("shape", list(SHAPES))
def test_block_goes_before_the_first_line_that_can_branch_or_exit(shape: str) -> None:
    out = splice(SHAPES[shape], FRAGMENT)
    assert _block_at(out) == LEADING[shape]
    assert out.replace(FRAGMENT, b"") == SHAPES[shape]
    assert block_state(out, FRAGMENT) == "ok"


@pytest.mark.parametrize("shape", ["error-branch", "exit-handler", "goto-only"])
def test_a_failover_run_of_the_spliced_script_starts_failover_bat(shape: str) -> None:
    """Run on the node model as CLUSTERPRO runs it (CLP_EVENT=FAILOVER): failover.bat must run.

    (The ``if (...)`` shape is not runnable on the model: parenthesised blocks are not simulated.)"""
    node = SimulatedWindows("node-b", "2012", codepage=437)
    node.write_file("C:\\clpbackup\\failover.bat", b"@echo off\r\necho ran> C:\\clpbackup\\ran.txt\r\n")
    node.write_file("C:\\ops\\exit_handler.bat", b"@echo off\r\nexit /b 0\r\n")
    node.write_file("C:\\clp\\start.bat", splice(SHAPES[shape], FRAGMENT))
    node.run_scheduled('"C:\\clp\\start.bat"', env={"CLP_EVENT": "FAILOVER", "CLP_SCRIPT_PATH": "C:\\clp"})
    assert node.fs.is_file("C:\\clpbackup\\ran.txt"), node.batches_run
    assert node.processes == []  # FO-1: cmd /c, no console left behind
    assert not node.not_simulated


def test_a_misplaced_block_is_moved_and_reported() -> None:
    lines = split_lines(ERROR_BRANCH)
    at_exit = next(i for i, line in enumerate(lines) if line.startswith(b"EXIT /B 1"))
    old = b"".join(lines[:at_exit]) + FRAGMENT + b"".join(lines[at_exit:])  # where clpbackup put it before
    assert block_state(old, FRAGMENT) == "misplaced"
    moved = splice(old, FRAGMENT)
    assert _block_at(moved) == LEADING["error-branch"]
    assert remove(moved) == ERROR_BRANCH


def test_block_state() -> None:
    assert block_state(ERROR_BRANCH, FRAGMENT) == "missing"
    outdated = splice(ERROR_BRANCH, FRAGMENT.replace(b"failover.bat", b"other.bat"))
    assert block_state(outdated, FRAGMENT) == "outdated"
    with pytest.raises(StartScriptError):
        block_state(BEGIN.encode() + b"\r\n", FRAGMENT)


def test_cp932_bytes_and_line_endings_are_kept() -> None:
    """FA 4A (NEC/IBM duplicate of 87 54) must stay FA 4A; LF and CRLF lines keep their ends."""
    text = b"@echo off\nrem \xfa\x4a \x82\xa0\r\necho \xfa\x4a\n\r\necho last"
    assert text.decode("cp932").encode("cp932") != text  # the round trip the old code made
    out = splice(text, FRAGMENT)
    assert out == b"@echo off\nrem \xfa\x4a \x82\xa0\r\n" + FRAGMENT + b"echo \xfa\x4a\n\r\necho last"
    assert remove(out) == text


def test_splice_is_idempotent_and_a_new_fragment_replaces_the_old() -> None:
    once = splice(ERROR_BRANCH, FRAGMENT)
    assert splice(once, FRAGMENT) == once
    new_fragment = FRAGMENT.replace(b"failover.bat", b"other.bat")
    twice = splice(once, new_fragment)
    assert b"other.bat" in twice and b"failover.bat" not in twice
    assert twice.count(BEGIN.encode()) == 1
    assert remove(twice) == ERROR_BRANCH


def test_missing_or_comment_only_scripts() -> None:
    assert splice(None, FRAGMENT) == FRAGMENT
    assert splice(b"", FRAGMENT) == FRAGMENT
    assert splice(b"@echo off", FRAGMENT) == b"@echo off\r\n" + FRAGMENT
    assert insertion_point(split_lines(b"@ECHO OFF\r\nREM x\r\n::y\r\n  \r\nremove.bat\r\n")) == 4


@pytest.mark.parametrize(
    "text", [f"{BEGIN}\r\necho\r\n", f"{END}\r\n{BEGIN}\r\n", f"{BEGIN}\r\n{END}\r\n{BEGIN}\r\n{END}\r\n"]
)
def test_damaged_block_is_refused(text: str) -> None:
    with pytest.raises(StartScriptError):
        splice(text.encode("ascii"), FRAGMENT)


@given(st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=12), st.booleans())
def test_foreign_bytes_survive_splice_and_remove(lines: list[bytes], lf: bool) -> None:
    lines = [line for line in lines if b"clpbackup" not in line.lower()]
    data = b"".join(line + (b"\n" if lf else b"\r\n") for line in lines)
    spliced = splice(data, FRAGMENT)
    assert find_block(split_lines(spliced)) is not None
    assert remove(spliced) == data
