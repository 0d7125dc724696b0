"""Wine's divergences from Windows, pinned (``docs/windows-facts.md``, "Wine as a judge").

The judge works around each one in ``tests/wine/judge.py``. Each test here asserts *Wine's*
behaviour, so the day a Wine release behaves like Windows the test fails and the workaround can go.
Why each is Wine's and not ours: the Windows behaviour is documented (sources in windows-facts.md)
and the batch text in each test is the smallest one showing the difference, with no clpbackup code.
"""

from __future__ import annotations

import pytest

from clpbackup.testing.model import SimulatedWindows
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


def _output(prefix: WinePrefix, lines: list[str], files: dict[str, bytes] | None = None) -> bytes | None:
    """Run ``lines`` as a batch file under Wine; what it wrote to C:\\pin\\out.txt."""
    prefix.reset(set())
    for path, data in (files or {}).items():
        prefix.write(path, data)
    prefix.write("C:\\pin\\t.bat", "".join(line + "\r\n" for line in lines).encode("ascii"))
    prefix.launch([Step('cmd /c "C:\\pin\\t.bat"')])
    return prefix.read("C:\\pin\\out.txt")


def _simulated(lines: list[str], files: dict[str, bytes] | None = None) -> bytes | None:
    node = SimulatedWindows("node-a", "2012")
    for path, data in (files or {}).items():
        node.write_file(path, data)
    node.write_file("C:\\pin\\t.bat", "".join(line + "\r\n" for line in lines))
    node.run_scheduled('cmd /c "C:\\pin\\t.bat"')
    assert node.not_simulated == []
    return node.fs.read_bytes("C:\\pin\\out.txt") if node.fs.is_file("C:\\pin\\out.txt") else None


def test_w6_an_undefined_substring_swallows_its_closing_percent_under_wine(
    wine: dict[int, WinePrefix],
) -> None:
    """Windows: for an undefined VAR a batch file drops only ``%VAR:``; the scan goes on, so the form's
    closing % pairs with the next % of the line (cmd.exe's percent phase, windows-facts.md). Wine 8
    drops the whole ``%VAR:~-16%``."""
    lines = ["@echo off", "set L=abc", 'set "R=[%NOPE:~-16%] [%L%]"', "> C:\\pin\\out.txt echo %R%"]
    assert _output(wine[437], lines) == b"[~-16] [abc]\r\n"
    assert _simulated(lines) == b"[~-16L]\r\n"


FOR_LINES = {"C:\\pin\\in.txt": b"one two\r\n;comment x\r\n\r\nsolo\r\nlast word\r\n"}


def test_w7_for_f_has_no_default_eol_under_wine(wine: dict[int, WinePrefix]) -> None:
    """Windows: for /f skips a line starting with ``;``, the default eol (SS64 "FOR /F"). Wine 8 only
    with an explicit ``eol=;``."""
    lines = ["@echo off", "for /f %%A in (C:\\pin\\in.txt) do >> C:\\pin\\out.txt echo [%%A]"]
    assert _output(wine[437], lines, FOR_LINES) == b"[one]\r\n[;comment]\r\n[solo]\r\n[last]\r\n"
    assert _simulated(lines, FOR_LINES) == b"[one]\r\n[solo]\r\n[last]\r\n"


def test_w8_for_f_with_eol_runs_blank_lines_under_wine(wine: dict[int, WinePrefix]) -> None:
    """Windows: "Blank lines are skipped" (for /?), and a line without the requested token runs
    nothing. Wine 8, once an ``eol=`` option is given: both run the statement with an empty value."""
    lines = [
        "@echo off",
        'for /f "eol=# tokens=2" %%A in (C:\\pin\\in.txt) do >> C:\\pin\\out.txt echo [%%A]',
    ]
    assert _output(wine[437], lines, FOR_LINES) == b"[two]\r\n[x]\r\n[]\r\n[]\r\n[word]\r\n"
    assert _simulated(lines, FOR_LINES) == b"[two]\r\n[x]\r\n[word]\r\n"


def test_w9_for_f_reads_cp932_lines_byte_by_byte_under_wine(wine: dict[int, WinePrefix]) -> None:
    """Windows: a Japanese node's cmd.exe reads for /f lines in its OEM code page (cp932), as it reads
    the batch file itself. Wine 8 (ja_JP prefix): every byte >= 0x80 of the line becomes "?"."""
    prefix = wine[932]
    line = "バージョン x".encode("cp932")
    lines = ["@echo off", 'for /f "delims=" %%A in (C:\\pin\\in.txt) do > C:\\pin\\out.txt echo [%%A]']
    got = _output(prefix, lines, {"C:\\pin\\in.txt": line + b"\r\n"})
    assert got == b"[" + bytes(b if b < 0x80 else 0x3F for b in line) + b"]\r\n"
    node = SimulatedWindows("node-a", "2012", codepage=932)
    node.write_file("C:\\pin\\in.txt", line + b"\r\n")
    node.write_file("C:\\pin\\t.bat", "".join(x + "\r\n" for x in lines))
    node.run_scheduled('cmd /c "C:\\pin\\t.bat"')
    assert node.fs.read_bytes("C:\\pin\\out.txt") == b"[" + line + b"]\r\n"


def test_w10_a_running_batch_file_is_not_read_again_under_wine(wine: dict[int, WinePrefix]) -> None:
    """Windows: cmd.exe opens the running batch file again (by name) before each line and reads at the
    byte offset where the previous one ended (windows-facts.md, "cmd.exe reads a running batch file
    by byte offset"; the simulator follows it). Wine 8 keeps the file it opened: a file replaced
    under it by another (``move /y``, as deploy's write-and-rename does) or deleted runs on as it
    was; a change in place (an append) is read at the offset, as on Windows."""
    first, second = "@echo off", "move /y C:\\pin\\new.bat C:\\pin\\t.bat >nul"
    offset = len(first + second) + 4  # two CRLFs
    head = "@echo off\r\nrem "
    # read from its start the new file only remarks; read at the old offset it writes "half"
    new = head + "x" * (offset - len(head)) + "echo half> C:\\pin\\out.txt\r\nexit /b 7\r\n"
    lines = [first, second, "echo old> C:\\pin\\out.txt"]
    files = {"C:\\pin\\new.bat": new.encode("ascii")}
    assert _output(wine[437], lines, files) == b"old\r\n"
    assert _simulated(lines, files) == b"half\r\n"
    deleted = ["@echo off", "echo before> C:\\pin\\out.txt", 'del "%~f0"', "echo after>> C:\\pin\\out.txt"]
    assert _output(wine[437], deleted) == b"before\r\nafter\r\n"
    assert _simulated(deleted) == b"before\r\n"  # Windows: "The batch file cannot be found."
    appended = ["@echo off", "echo old> C:\\pin\\out.txt", 'echo echo appended^>^> C:\\pin\\out.txt>>"%~f0"']
    assert _output(wine[437], appended) == _simulated(appended) == b"old\r\nappended\r\n"
