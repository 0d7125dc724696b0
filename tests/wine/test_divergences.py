"""Wine's divergences from Windows, pinned (``docs/windows-facts.md``, "Wine as a judge").

The judge works around each one in ``tests/wine/judge.py``. Each test here asserts *Wine's*
behaviour, so the day a Wine release behaves like Windows the test fails and the workaround can go.
Why each is Wine's and not ours: the Windows behaviour is documented (sources in windows-facts.md)
and the batch text in each test is the smallest one showing the difference, with no clpbackup code.
"""

from __future__ import annotations

import pytest

from tests.wine.wine import BIN_DIR, Step, WinePrefix

pytestmark = pytest.mark.wine


def _run(prefix: WinePrefix, lines: list[str], **env: str) -> tuple[int | None, str, tuple[str, ...]]:
    prefix.reset(set())
    prefix.write("C:\\pin\\t.bat", "".join(line + "\r\n" for line in lines).encode("ascii"))
    [(_log, result)] = prefix.launch([Step('cmd /c "C:\\pin\\t.bat"', env)])
    rec = result.records[0] if result.records else None
    return result.rc, rec.command_line if rec else "", rec.argv if rec else ()


def test_w1_if_exist_is_false_for_a_drive_root_under_wine(wine: dict[int, WinePrefix]) -> None:
    """Windows: ``if exist "C:\\"`` is true when the drive is there (``cmd /?`` of IF; the JOB-3
    guard relies on it). Wine 8: false for every root; ``"C:\\nul"`` is true."""
    rc, _line, _argv = _run(
        wine[437], ["@echo off", 'if exist "C:\\" exit /b 10', 'if exist "C:\\nul" exit /b 11', "exit /b 12"]
    )
    assert rc == 11


def test_w2_start_rebuilds_the_command_line_of_the_program_it_starts(wine: dict[int, WinePrefix]) -> None:
    """Windows: START hands the rest of its line to the program as written, so rsm reads
    ``/LF"HP DAT72"`` (NT-1). Wine 8: START splits and re-quotes it, so the program gets its full path
    in quotes and ``"/LFHP DAT72"``; the argv after CommandLineToArgvW is the same."""
    _rc, line, argv = _run(wine[437], ["@echo off", 'start /wait rsm refresh /LF"HP DAT72"'])
    assert line == f'"{BIN_DIR}\\rsm.exe" refresh "/LFHP DAT72"'
    assert argv[1:] == ("refresh", "/LFHP DAT72")


@pytest.mark.parametrize("code", [7, 303])
def test_w3_call_of_a_batch_ending_with_exit_b_leaves_errorlevel_1(
    wine: dict[int, WinePrefix], code: int
) -> None:
    """Windows: after ``call x.bat`` where x.bat runs ``exit /b N``, ERRORLEVEL is N (``exit /?``;
    the failover script with ``at: now`` passes the job's exit code on this way). Wine 8: 1."""
    prefix = wine[437]
    prefix.reset(set())
    prefix.write("C:\\pin\\x.bat", f"@echo off\r\nexit /b {code}\r\n".encode("ascii"))
    prefix.write(
        "C:\\pin\\t.bat",
        b'@echo off\r\ncall "C:\\pin\\x.bat"\r\nset RC=%ERRORLEVEL%\r\nexit /b %RC%\r\n',
    )
    [(_log, direct), (_log2, called)] = prefix.launch(
        [Step('cmd /c "C:\\pin\\x.bat"'), Step('cmd /c "C:\\pin\\t.bat"')]
    )
    assert direct.rc == code  # a batch run directly exits with N under Wine too
    assert called.rc == 1
