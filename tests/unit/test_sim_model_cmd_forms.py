"""The simulated cmd.exe's for /f, call :label, %VAR:~n,m% / %VAR:a=b% and quoted set (the forms the
weekly restore drill's batch file uses; docs/design.md "The batch-file subset", sources in
docs/windows-facts.md "cmd.exe: for /f, call :label, substrings")."""

from __future__ import annotations

import pytest

from clpbackup.testing.model import ShareStore, SimulatedWindows

SHARE = "\\\\nas\\b"


@pytest.fixture()
def node() -> SimulatedWindows:
    return SimulatedWindows("node-a", "2012", volumes=["G:"])


def batch(node: SimulatedWindows, *body: str, user: str | None = None) -> tuple[int, str, str]:
    """Run ``body`` (lines) as C:\\t.bat through ``cmd /c``; (rc, stdout, stderr) as text."""
    node.write_file("C:\\t.bat", "".join(line + "\r\n" for line in ("@echo off", *body)))
    if user is not None:
        return node.run_as(user, 'cmd /c "C:\\t.bat"')
    rc, out, err = node.run_command_line('cmd /c "C:\\t.bat"')
    return rc, out.decode(node.encoding), err.decode(node.encoding)


# -- %VAR:~n,m% and %VAR:str=repl% (set /?) -------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "value"),
    [
        ("~-5", "World"),
        ("~0,-2", "Hello Wor"),
        ("~3,4", "lo W"),
        ("~-3,2", "rl"),
        ("~20", ""),
        ("~-20", "Hello World"),
        ("~2,-20", ""),
        ("~0,0", ""),
        ("~6", "World"),
        ("o=0", "Hell0 W0rld"),
        ("O=0", "Hell0 W0rld"),  # the search ignores case
        ("*o=X", "X World"),  # *str: everything up to the first match
        ("world=", "Hello "),
        ("x=y", "Hello World"),
        ("l=", "Heo Word"),
    ],
)
def test_substring_and_substitution_follow_set_help(node: SimulatedWindows, form: str, value: str) -> None:
    rc, out, _ = batch(node, "set L=Hello World", f"echo [%L:{form}%]")
    assert (rc, out) == (0, f"[{value}]\r\n")
    assert not node.not_simulated


def test_the_drill_shape_check_reads_a_version_identifier(node: SimulatedWindows) -> None:
    _rc, out, _ = batch(
        node,
        'set "LINE=Version identifier: 10/04/2020-17:48"',
        'set "TAIL=%LINE:~-16%"',
        'set "SHAPE=%TAIL:~2,1%%TAIL:~5,1%%TAIL:~10,1%%TAIL:~13,1%"',
        "echo [%TAIL%] [%SHAPE%]",
    )
    assert out == "[10/04/2020-17:48] [//-:]\r\n"


def test_an_undefined_variable_before_a_colon_drops_percent_name_colon_in_a_batch_file(
    node: SimulatedWindows,
) -> None:
    """cmd.exe's percent phase: for an undefined VAR, "%VAR:" is removed and the scan goes on, so the
    closing % starts a new %...% (Windows; Wine 8 also drops that % — divergence W5)."""
    _rc, out, _ = batch(node, "set L=abc", "echo [%NOPE:~-16%]", "echo [%NOPE:~-16%] [%L%]")
    assert out == "[~-16]\r\n[~-16L]\r\n"
    assert not node.not_simulated


def test_on_a_command_line_an_undefined_substring_stays_as_typed(node: SimulatedWindows) -> None:
    node.env.set("L", "Hello")
    rc, out, _ = node.run_command_line("echo %NOPE:~1% %L:~1% %L:l=L%")
    assert (rc, out.decode()) == (0, "%NOPE:~1% ello HeLLo\r\n")


@pytest.mark.parametrize("form", ["~a", "abc", "~1,x"])
def test_a_malformed_substring_is_not_simulated(node: SimulatedWindows, form: str) -> None:
    batch(node, "set L=Hello", f"echo [%L:{form}%]")
    assert node.not_simulated and "malformed variable" in node.not_simulated[0]


# -- set "VAR=value" -------------------------------------------------------------------------------


def test_quoted_set_keeps_cmd_operators_as_text(node: SimulatedWindows) -> None:
    """Inside quotes & | > < ^ are text (a volume label can hold &); after the last quote nothing."""
    rc, out, _ = batch(
        node,
        'set "V=Data & Logs | x > C:\\y.txt < z ^ w" ignored',
        'echo "%V%"',
        'set "V2=%V:~0,11%"',
        'echo "%V2%"',
    )
    assert (rc, out) == (0, '"Data & Logs | x > C:\\y.txt < z ^ w"\r\n"Data & Logs"\r\n')
    assert node.env.get("V") is None  # cmd /c: the batch ran in its own cmd.exe
    assert not node.fs.exists("C:\\y.txt") and not node.not_simulated


# -- for /f ------------------------------------------------------------------------------------------

LINES = (
    "one two three four\r\n"
    "\r\n"
    ";comment x y\r\n"
    "  ;lead a b\r\n"
    "  spaced  out   line\r\n"
    "A,B,,C\n"  # an LF-only line: FOR splits on LF, a CR before it is dropped
    "solo\r\n"
    "last"
)


@pytest.mark.parametrize(
    ("options", "body", "want"),
    [
        ("", "[%%A]", ["[one]", "[spaced]", "[A,B,,C]", "[solo]", "[last]"]),
        (
            '"delims="',
            "[%%A]",
            [
                "[one two three four]",
                "[  ;lead a b]",
                "[  spaced  out   line]",
                "[A,B,,C]",
                "[solo]",
                "[last]",
            ],
        ),
        ('"tokens=2,3*"', "[%%A][%%B][%%C]", ["[two][three][four]", "[out][line][]"]),
        ('"tokens=3"', "[%%A]", ["[three]", "[line]"]),
        (
            '"tokens=1-2 delims=,"',
            "[%%A][%%B]",
            [
                "[one two three four][]",
                "[  ;lead a b][]",
                "[  spaced  out   line][]",
                "[A][B]",
                "[solo][]",
                "[last][]",
            ],
        ),
        ('"tokens=* skip=4"', "[%%A]", ["[spaced  out   line]", "[A,B,,C]", "[solo]", "[last]"]),
        ('"eol=s"', "[%%A]", ["[one]", "[;comment]", "[;lead]", "[A,B,,C]", "[last]"]),
        (
            '"eol=# tokens=1,2"',
            "[%%A][%%B]",
            [
                "[one][two]",
                "[;comment][x]",
                "[;lead][a]",
                "[spaced][out]",
                "[A,B,,C][]",
                "[solo][]",
                "[last][]",
            ],
        ),
    ],
)
def test_for_f_over_a_file_splits_lines_as_for_help_says(
    node: SimulatedWindows, options: str, body: str, want: list[str]
) -> None:
    """Blank lines skipped; eol (default ;) after leading delimiters; tokens=n,m-n,*; a line without
    any requested token skipped; a requested token the line lacks is empty; skip counts every line."""
    node.write_file("C:\\d\\f.txt", LINES)
    rc, _out, _ = batch(node, f"for /f {options} %%A in (C:\\d\\f.txt) do echo {body}>> C:\\d\\out.txt")
    assert rc == 0 and not node.not_simulated
    assert node.read_text("C:\\d\\out.txt") == "".join(w + "\r\n" for w in want)


def test_for_f_over_a_command_reads_its_stdout_and_strips_quotes_with_tilde(node: SimulatedWindows) -> None:
    node.write_file("C:\\d\\q.txt", '"a b" c\r\n"d"\r\n')
    batch(node, "for /f %%L in ('type \"C:\\d\\q.txt\"') do echo [%%L]")
    # whether a quote groups blanks into one token is not documented (Wine 8: it does)
    assert node.not_simulated and "delimiter inside quotes" in node.not_simulated[0]
    node.not_simulated.clear()
    rc, out, _ = batch(
        node,
        'for /f "delims=" %%L in (\'type "C:\\d\\q.txt"\') do echo [%%L] [%%~L]',
        "for /f %%L in ('hostname') do echo host=%%L",
    )
    assert rc == 0 and not node.not_simulated
    assert out == '["a b" c] [a b" c]\r\n["d"] [d]\r\nhost=NODE-A\r\n'


def test_for_f_runs_the_command_in_a_child_cmd(node: SimulatedWindows) -> None:
    """The command runs as cmd /c: %VAR% is expanded there again (command-line rules), and its
    stderr reaches the batch's stderr; a command without output runs the statement no time."""
    node.env.set("INNER", "from-the-child")
    rc, out, err = batch(
        node,
        "for /f %%L in ('echo %%INNER%%') do echo [%%L]",
        "for /f %%L in ('type C:\\nosuch.txt') do echo never",
    )
    assert (rc, out) == (0, "[from-the-child]\r\n") and "cannot find the file" in err
    assert not node.not_simulated


def test_for_f_values_are_text_for_the_statement_they_land_in(node: SimulatedWindows) -> None:
    """cmd.exe replaces FOR variables after it parsed the statement: a value's & inside quotes is text;
    outside quotes (where this model would act on it) it is "not simulated", never run."""
    node.write_file("C:\\d\\v.txt", "Data & Logs\r\n")
    rc, out, _ = batch(node, 'for /f "delims=" %%L in (C:\\d\\v.txt) do echo "%%L"')
    assert (rc, out) == (0, '"Data & Logs"\r\n') and not node.not_simulated
    batch(node, 'for /f "delims=" %%L in (C:\\d\\v.txt) do echo %%L')
    assert node.not_simulated and "outside quotes" in node.not_simulated[0]


@pytest.mark.parametrize(
    "statement",
    [
        'for /f "usebackq" %%L in (`hostname`) do echo %%L',
        "for /f %%L in ('hostname ^| find \"N\"') do echo %%L",
        "for /f %%L in ('hostname | find \"N\"') do echo %%L",
        "for /d %%L in (C:\\*) do echo %%L",
        "for /r C:\\ %%L in (x) do echo %%L",
        "for /l %%L in (1,1,3) do echo %%L",
        "for /f \"tokens=3,1\" %%L in ('hostname') do echo %%L",
        "for /f \"delims=, tokens=2\" %%L in ('hostname') do echo %%L",
        "for /f %%L in ('hostname') do echo %%~fL",
        "for /f %%L in (C:\\nosuch.txt) do echo %%L",
    ],
)
def test_for_forms_outside_the_model_are_not_simulated(node: SimulatedWindows, statement: str) -> None:
    _rc, out, _ = batch(node, statement)
    assert node.not_simulated, out
    assert "NODE-A" not in out


def test_for_f_with_echo_on_is_not_simulated(node: SimulatedWindows) -> None:
    """With echo on cmd.exe prints each iteration's statement after a prompt; the model does not."""
    node.write_file("C:\\t.bat", "for /f %%L in ('hostname') do set H=%%L\r\n")
    node.run_command_line('cmd /c "C:\\t.bat"')
    assert node.not_simulated and "echo on" in node.not_simulated[0]


def test_plain_for_over_names_still_searches_the_path(node: SimulatedWindows) -> None:
    node.write_file("C:\\Users\\Administrator\\here.txt", "x")
    _rc, out, _ = batch(node, "for %%P in (here.txt nosuch.exe) do echo [%%~$PATH:P]")
    assert out == "[C:\\Users\\Administrator\\here.txt]\r\n[]\r\n" and not node.not_simulated


# -- call :label (call /?) --------------------------------------------------------------------------


def test_call_label_runs_a_subroutine_with_its_own_parameters(node: SimulatedWindows) -> None:
    rc, out, _ = batch(
        node,
        "set X=1",
        'call :sub "a & b" c,d "e f"',
        'echo back rc=%ERRORLEVEL% X=%X% "R=%R%" 1=[%1]',
        "call :ret 7",
        "echo after ret rc=%ERRORLEVEL%",
        "call :tail",
        "echo after tail rc=%ERRORLEVEL% T=%T%",
        "exit /b 3",
        ":sub",
        'echo 0=[%0] 1=[%1] "~1=%~1" 2=[%2] 3=[%3] 4=[%4] all=[%*]',
        'set "R=%~1"',
        "set X=2",
        "goto :eof",
        "echo never",
        ":ret",
        "setlocal",
        "set X=local",
        "exit /b %1",
        ":tail",
        "set T=end of file",
    )
    assert rc == 3 and not node.not_simulated
    assert out == (
        '0=[:sub] 1=["a & b"] "~1=a & b" 2=[c] 3=[d] 4=["e f"] all=["a & b" c,d "e f"]\r\n'
        'back rc=0 X=2 "R=a & b" 1=[]\r\n'
        "after ret rc=7\r\n"
        # the subroutine's setlocal ended with it; the fall-through to :tail's end returns
        "after tail rc=7 T=end of file\r\n"
    )


def test_call_label_edges_are_not_simulated(node: SimulatedWindows) -> None:
    for body in (
        ["call :nosuch"],
        ["call :sub 100%%", "goto :eof", ":sub", "echo %1"],
        ["call :sub", "goto :eof", ":sub", "echo %~dp0"],
    ):
        node.not_simulated.clear()
        batch(node, *body)
        assert node.not_simulated, body
    node.not_simulated.clear()
    node.run_command_line("call :sub")
    assert node.not_simulated and "outside a batch file" in node.not_simulated[0]


def test_call_label_from_a_for_f_body(node: SimulatedWindows) -> None:
    node.write_file("C:\\d\\v.txt", "Label: Data & Logs\r\nsecond line\r\n")
    rc, out, _ = batch(
        node,
        "set N=0",
        'for /f "delims=" %%L in (C:\\d\\v.txt) do call :one "%%L"',
        "echo [%LAST%]",
        "exit /b 0",
        ":one",
        'set "LAST=%~1"',
        'echo got "%~1"',
        "goto :eof",
    )
    assert rc == 0 and not node.not_simulated
    assert out == 'got "Label: Data & Logs"\r\ngot "second line"\r\n[second line]\r\n'


# -- the weekly drill's forms together ---------------------------------------------------------------

DRILL = [
    "set VERSION=",
    "set BEST=",
    f"for /f \"delims=\" %%L in ('wbadmin get versions -backupTarget:{SHARE} -machine:node-a') "
    'do call :version "%%L"',
    "if not defined VERSION goto nothing",
    "set GOT=",
    'for /f "tokens=3" %%T in (\'type "C:\\clpbackup\\drill\\canary.txt"\') do set "GOT=%%T"',
    "set MATCH=",
    'for /f "tokens=1" %%T in (\'type "C:\\clpbackup\\logs\\job-canary.txt"\') '
    'do if "%%T"=="%GOT%" set MATCH=1',
    "echo [%VERSION%] [%GOT%] [%MATCH%]",
    "exit /b 0",
    ":nothing",
    "echo no version",
    "exit /b 5",
    ":version",
    'set "LINE=%~1"',
    'set "TAIL=%LINE:~-16%"',
    'set "SHAPE=%TAIL:~2,1%%TAIL:~5,1%%TAIL:~10,1%%TAIL:~13,1%"',
    'if not "%SHAPE%"=="//-:" goto :eof',
    'set "KEY=%TAIL:~6,4%%TAIL:~0,2%%TAIL:~3,2%%TAIL:~11,2%%TAIL:~14,2%"',
    'if not "K%KEY%" GTR "K%BEST%" goto :eof',
    'set "BEST=%KEY%"',
    'set "VERSION=%TAIL%"',
    "goto :eof",
]


@pytest.mark.parametrize("os", ["2008R2", "2012"])
def test_the_drill_batch_finds_the_newest_version_on_the_share(os: str) -> None:
    node = SimulatedWindows("node-a", os, volumes=[], shares=ShareStore())
    node.write_file("C:\\clpbackup\\drill\\canary.txt", "clpbackup canary 7f3a9c 2024-01-15T00:00Z\r\n")
    node.write_file("C:\\clpbackup\\logs\\job-canary.txt", "0000 stale\r\n7f3a9c written\r\n")
    assert batch(node, *DRILL, user="SYSTEM")[:2] == (5, "no version\r\n")
    for _ in range(2):
        assert node.run_as("SYSTEM", f"wbadmin start backup -include:C: -backupTarget:{SHARE} -quiet")[0] == 0
        node.advance(hours=3)
    rc, out, err = batch(node, *DRILL, user="SYSTEM")
    assert (rc, out) == (0, "[01/15/2024-03:00] [7f3a9c] [1]\r\n"), err
    assert not node.not_simulated


# -- if with EQU NEQ LSS LEQ GTR GEQ (if /?) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "true"),
    [
        ("9 LSS 10", True),  # both numbers: compared as numbers
        ("10 GTR 9", True),
        ("-5 LSS 3", True),
        ("7 EQU 7", True),
        ("7 NEQ 7", False),
        ("7 LEQ 7", True),
        ("7 GEQ 8", False),
        ("7 gtr 6", True),  # the operator in any case
        ('"9" LSS "10"', False),  # quoted: strings, "9" after "1"
        ('"K202401150300" GTR "K202401150259"', True),
        ('"K202401150300" GTR "K"', True),  # a longer string after its prefix
        ('"K" GTR "K202401150300"', False),
        ('"K202312312359" GTR "K202401010000"', False),
        ('"K202401010000" EQU "K202401010000"', True),
        ("ABC LSS ABD", True),
        ("/I abc EQU ABC", True),
        ("not 10 GTR 9", False),
    ],
)
def test_if_compares_numbers_as_numbers_and_else_strings_as_if_help_says(
    node: SimulatedWindows, condition: str, true: bool
) -> None:
    rc, out, err = batch(node, f"if {condition} echo yes", "echo end")
    assert rc == 0 and out == ("yes\r\nend\r\n" if true else "end\r\n"), err
    assert not node.not_simulated


@pytest.mark.parametrize(
    "condition",
    [
        "010 GTR 9",  # octal to wcstol(base 0)
        "0x1F EQU 31",  # hexadecimal
        "4294967296 GTR 1",  # beyond 32 bits
        "abc LSS ABD",  # mixed case: the locale's collation puts a before B, ordinal does not
        '"co-op" GTR "coop"',  # the word sort treats a hyphen apart
    ],
)
def test_if_comparisons_the_model_cannot_answer_are_not_simulated(
    node: SimulatedWindows, condition: str
) -> None:
    _rc, out, _err = batch(node, f"if {condition} echo yes")
    assert out == "" and len(node.not_simulated) == 1
    assert f"if {condition.split()[0]}" in node.not_simulated[0]


def test_if_with_an_unknown_operator_is_a_syntax_error(node: SimulatedWindows) -> None:
    rc, out, err = batch(node, "if 1 BIGGER 2 echo yes", "echo end")
    assert out == "" and "BIGGER was unexpected at this time." in err and rc != 0
