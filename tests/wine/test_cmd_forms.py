"""The cmd.exe forms of the weekly restore drill, run by the simulator and by Wine's cmd.exe side by side.

Each case is a small batch file (``for /f`` over a command and a file with tokens/delims, ``call
:label`` with quoted arguments holding ``&`` and blanks, substrings and substitution, the drill's
version-shape subroutine over the real ``wbadmin get versions`` capture and over the simulator's own
wbadmin output). Both judges get the same bytes and run ``cmd /c "C:\\pin\\t.bat"``; the batch file
writes what it found to ``C:\\pin\\out.txt``. They must agree on that file, the exit code and the
programs run with their argv. Wine's recorder stands in for wbadmin and prints the same text the
simulator's wbadmin printed (``CLPREC_OUT_WBADMIN``, ``tests/wine/c/recorder.c``).

Where Wine differs from Windows (W6–W8, ``test_divergences.py``) the cases stay on common ground:
no ``eol=`` option, no input line starting with ``;``, substrings of defined variables only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from clpbackup.testing.model import ShareStore, SimulatedWindows
from tests.helpers.argv import command_line_to_argv
from tests.helpers.parsers import FIXTURES
from tests.wine.wine import RECORDED, Step, WinePrefix

pytestmark = pytest.mark.wine

RUN = 'cmd /c "C:\\pin\\t.bat"'
OUT = "C:\\pin\\out.txt"
SHARE = "\\\\nas\\b"
#: The real capture of shared/reference/outputs/wbadmin-get-versions_single_ws2019_en-US.txt (from a
#: public write-up; its "# " provenance lines left out), as wbadmin printed it.
CAPTURE_FILE = FIXTURES / "wbadmin" / "2019-en-US" / "get-versions_share-capture.txt"

#: Every case's first lines: %O% is the result file, %P% the folder of the files it reads.
HEAD = ["@echo off", f"set O={OUT}", "set P=C:\\pin"]

#: The drill's version-shape subroutine (the weekly drill's batch file uses these lines).
VERSION_SUB = [
    ":version",
    'set "LINE=%~1"',
    'set "TAIL=%LINE:~-16%"',
    'set "SHAPE=%TAIL:~2,1%%TAIL:~5,1%%TAIL:~10,1%%TAIL:~13,1%"',
    ">>%O% echo line [%TAIL%] shape [%SHAPE%]",
    'if not "%SHAPE%"=="//-:" goto :eof',
    'set "KEY=%TAIL:~6,4%%TAIL:~0,2%%TAIL:~3,2%%TAIL:~11,2%%TAIL:~14,2%"',
    'if not "K%KEY%" GTR "K%BEST%" goto :eof',
    'set "BEST=%KEY%"',
    'set "VERSION=%TAIL%"',
    "goto :eof",
]


def capture_text() -> str:
    """The real ``wbadmin get versions`` output (en-US, Windows Server 2019), CRLF."""
    return CAPTURE_FILE.read_bytes().decode("ascii")


@dataclass
class Case:
    """A batch file, the files it reads, and what the simulator's node holds before it runs."""

    lines: list[str]
    files: dict[str, str] = field(default_factory=dict)
    setup: Callable[[SimulatedWindows], None] | None = None
    os: str = "2012"


LINES = (
    "one two three four\r\n"
    "\r\n"
    "  spaced  out   line\r\n"
    "A,B,,C\n"  # LF only
    "solo\r\n"
    "x, y , z\r\n"
    "last"
)


def _backups(model: SimulatedWindows) -> None:
    for _ in range(2):
        rc, _out, err = model.run_as(
            "SYSTEM", f"wbadmin start backup -include:C: -backupTarget:{SHARE} -quiet"
        )
        assert rc == 0, err
        model.advance(hours=3)


CASES: dict[str, Case] = {
    "for /f over a file: tokens, delims, skip, *": Case(
        [
            *HEAD,
            "for /f %%A in (%P%\\in.txt) do >>%O% echo default [%%A]",
            'for /f "delims=" %%A in (%P%\\in.txt) do >>%O% echo whole [%%A]',
            'for /f "tokens=2,3*" %%A in (%P%\\in.txt) do >>%O% echo 2,3* [%%A][%%B][%%C]',
            'for /f "tokens=3" %%A in (%P%\\in.txt) do >>%O% echo 3 [%%A]',
            'for /f "tokens=1-2 delims=," %%A in (%P%\\in.txt) do >>%O% echo 1-2 [%%A][%%B]',
            'for /f "tokens=1,3 delims=, " %%A in (%P%\\in.txt) do >>%O% echo 1,3 [%%A][%%B]',
            'for /f "skip=2 tokens=*" %%A in (%P%\\in.txt) do >>%O% echo skip [%%A]',
            "exit /b 4",
        ],
        {"C:\\pin\\in.txt": LINES},
    ),
    "for /f over a command: tokens, %%~X, set in the statement": Case(
        [
            *HEAD,
            'for /f "tokens=2,3*" %%A in (\'type "%P%\\in.txt"\') do >>%O% echo [%%A][%%B][%%C]',
            'for /f "delims=" %%A in (\'type "%P%\\q.txt"\') do >>%O% echo "%%A" [%%~A]',
            "set X=before",
            'for /f "tokens=3" %%T in (\'type "%P%\\canary.txt"\') do set "GOT=%%T"',
            ">>%O% echo GOT=[%GOT%] X=[%X%]",
        ],
        {
            "C:\\pin\\in.txt": LINES,
            "C:\\pin\\q.txt": '"quoted"\r\nplain\r\n',
            "C:\\pin\\canary.txt": "a b 7f3a9c d\r\n",
        },
    ),
    "call :label with & and blanks in quoted arguments": Case(
        [
            *HEAD,
            "set X=1",
            'call :sub "Data & Logs" c,d "e f"',
            '>>%O% echo back rc=%ERRORLEVEL% X=%X% "R=%R%"',
            "call :ret 7",
            ">>%O% echo ret rc=%ERRORLEVEL%",
            'for /f "delims=" %%L in (%P%\\v.txt) do call :one "%%L"',
            '>>%O% echo "last=%LAST%"',
            "call :tail",
            ">>%O% echo tail T=%T%",
            "exit /b 3",
            ":sub",
            '>>%O% echo 0=[%0] 1=[%1] "~1=%~1" 2=[%2] 3=[%3] 4=[%4] all=[%*]',
            'set "R=%~1"',
            "set X=2",
            "goto :eof",
            ":ret",
            "exit /b %1",
            ":one",
            'set "LAST=%~1"',
            '>>%O% echo one "%~1"',
            "goto :eof",
            ":tail",
            "set T=end of file",
        ],
        {"C:\\pin\\v.txt": "Label: Data & Logs\r\nsecond | line > here\r\n"},
    ),
    "substrings and substitution": Case(
        [
            *HEAD,
            "set L=Hello World",
            'set "V=Version identifier: 10/04/2020-17:48"',
            # (no offset past the end: Wine 8 may read past the value there, windows-facts.md)
            ">>%O% echo [%L:~-5%] [%L:~0,-2%] [%L:~3,4%] [%L:~-3,2%] [%L:~11%] [%L:~-20%]",
            ">>%O% echo [%L:~2,-20%] [%L:~0,0%] [%L:~6%] [%V:~-16%] [%V:~-16,2%]",
            ">>%O% echo [%L:o=0%] [%L:O=0%] [%L:*o=X%] [%L:world=%] [%L:x=y%] [%L:l=%]",
            'set "T=%V:~-16%"',
            'set "S=%T:~2,1%%T:~5,1%%T:~10,1%%T:~13,1%"',
            ">>%O% echo [%T%] [%S%]",
            ">>%O% echo [%NOPE:~-16%]",
        ]
    ),
    "the version-shape subroutine over the real capture": Case(
        [
            *HEAD,
            "set VERSION=",
            "set BEST=",
            'for /f "delims=" %%L in (\'type "%P%\\capture.txt"\') do call :version "%%L"',
            ">>%O% echo [%VERSION%]",
            "exit /b 0",
            *VERSION_SUB,
        ],
        {"C:\\pin\\capture.txt": capture_text()},
    ),
    "if EQU NEQ LSS LEQ GTR GEQ: numbers, and strings behind a K": Case(
        [
            *HEAD,
            "if 9 LSS 10 >>%O% echo 9 LSS 10",
            "if 10 GTR 9 >>%O% echo 10 GTR 9",
            "if -5 LSS 3 >>%O% echo -5 LSS 3",
            "if 7 EQU 7 >>%O% echo 7 EQU 7",
            "if 7 NEQ 7 >>%O% echo 7 NEQ 7",
            "if 7 LEQ 7 >>%O% echo 7 LEQ 7",
            "if 7 GEQ 8 >>%O% echo 7 GEQ 8",
            "if 7 gtr 6 >>%O% echo 7 gtr 6",
            'if "9" LSS "10" >>%O% echo quoted 9 LSS 10',
            'if "9" GTR "10" >>%O% echo quoted 9 GTR 10',
            'if "K202401150300" GTR "K202401150259" >>%O% echo later GTR',
            'if "K202401150300" GTR "K" >>%O% echo key GTR empty',
            'if "K" GTR "K202401150300" >>%O% echo empty GTR key',
            'if "K202312312359" GTR "K202401010000" >>%O% echo year GTR',
            'if not "K202401010000" GTR "K202401010000" >>%O% echo not GTR itself',
            "if ABC LSS ABD >>%O% echo ABC LSS ABD",
            "if /I abc EQU ABC >>%O% echo /I EQU",
        ]
    ),
    "the version subroutine over a newest-first listing": Case(
        [
            *HEAD,
            "set VERSION=",
            "set BEST=",
            'for /f "delims=" %%L in (\'type "%P%\\capture.txt"\') do call :version "%%L"',
            ">>%O% echo [%VERSION%]",
            "exit /b 0",
            *VERSION_SUB,
        ],
        {
            "C:\\pin\\capture.txt": capture_text()
            + "\r\n"
            + capture_text().split("\r\n\r\n", 1)[1].replace("10/04/2020-17:48", "10/03/2020-17:48")
            + "\r\n"
            + capture_text().split("\r\n\r\n", 1)[1].replace("10/04/2020-17:48", "12/31/2019-23:59")
        },
    ),
    "the drill's forms over wbadmin get versions (the simulator's output)": Case(
        [
            *HEAD,
            "set VERSION=",
            "set BEST=",
            f"for /f \"delims=\" %%L in ('wbadmin get versions -backupTarget:{SHARE} -machine:node-a') "
            'do call :version "%%L"',
            "if not defined VERSION goto nothing",
            "set GOT=",
            'for /f "tokens=3" %%T in (\'type "%P%\\canary.txt"\') do set "GOT=%%T"',
            "set MATCH=",
            'for /f "tokens=1" %%T in (\'type "%P%\\job-canary.txt"\') do if "%%T"=="%GOT%" set MATCH=1',
            ">>%O% echo [%VERSION%] [%GOT%] [%MATCH%]",
            "exit /b 0",
            ":nothing",
            ">>%O% echo no version",
            "exit /b 5",
            *VERSION_SUB,
        ],
        {
            "C:\\pin\\canary.txt": "clpbackup-canary daily 7f3a9c 2024-01-15\r\n",
            "C:\\pin\\job-canary.txt": "0000 stale\r\n7f3a9c written\r\n",
        },
        setup=_backups,
    ),
}


@dataclass
class Outcome:
    """What one judge made of a case."""

    rc: int | None
    out: bytes | None
    tools: list[tuple[str, tuple[str, ...]]]


def _simulate(case: Case, codepage: int) -> tuple[Outcome, SimulatedWindows, bytes | None]:
    model = SimulatedWindows("node-a", case.os, codepage=codepage, shares=ShareStore())
    if case.setup is not None:
        case.setup(model)
    for path, text in case.files.items():
        model.write_file(path, model.encode(text))
    model.write_file("C:\\pin\\t.bat", model.encode("".join(line + "\r\n" for line in case.lines)))
    since = len(model.history)
    rc = model.run_scheduled(RUN)
    runs = [r for r in model.history[since:] if r.program.lower() in RECORDED]
    canned = model.encode(runs[0].out) if runs and runs[0].program.lower() == "wbadmin" else None
    out = model.fs.read_bytes(OUT) if model.fs.is_file(OUT) else None
    tools = [
        (r.program.lower(), tuple(command_line_to_argv(r.program + " " + r.arguments))[1:]) for r in runs
    ]
    return Outcome(rc, out, tools), model, canned


def _wine(prefix: WinePrefix, case: Case, model: SimulatedWindows, canned: bytes | None) -> Outcome:
    prefix.reset(set())
    for path, text in case.files.items():
        prefix.write(path, model.encode(text))
    prefix.write("C:\\pin\\t.bat", model.encode("".join(line + "\r\n" for line in case.lines)))
    env: dict[str, str] = {}
    if canned is not None:
        prefix.write("C:\\pin\\wbadmin-out.txt", canned)
        env["CLPREC_OUT_WBADMIN"] = "C:\\pin\\wbadmin-out.txt"
    [(_log, result)] = prefix.launch([Step(RUN, env)])
    return Outcome(result.rc, prefix.read(OUT), [(r.program, r.argv[1:]) for r in result.records])


@pytest.mark.parametrize("codepage", [437, 932])
@pytest.mark.parametrize("name", list(CASES))
def test_the_drill_forms_run_alike_in_the_simulator_and_under_wine(
    wine: dict[int, WinePrefix], name: str, codepage: int
) -> None:
    case = CASES[name]
    sim, model, canned = _simulate(case, codepage)
    assert model.not_simulated == [], model.not_simulated
    assert sim.out, "the batch file wrote nothing: the case checks nothing"
    got = _wine(wine[codepage], case, model, canned)
    if codepage == 932 and got.out is not None and sim.out is not None:
        # W9: Wine's for /f turns every byte >= 0x80 of a cp932 line into "?" (Japanese lines of
        # wbadmin's output); the lines the batch file wrote in ASCII must still agree, one for one
        sim_lines, wine_lines = sim.out.split(b"\r\n"), got.out.split(b"\r\n")
        assert len(sim_lines) == len(wine_lines), (sim_lines, wine_lines)
        got.out = b"\r\n".join(w if s.isascii() else s for s, w in zip(sim_lines, wine_lines, strict=True))
    assert (got.rc, got.out) == (sim.rc, sim.out), (
        f"simulator rc {sim.rc} out:\n{(sim.out or b'').decode(model.encoding)}\n"
        f"Wine rc {got.rc} out:\n{(got.out or b'').decode(model.encoding)}"
    )
    assert got.tools == sim.tools


def test_the_capture_case_finds_the_captures_version() -> None:
    """The real capture's one version is what the shape check finds (no Wine needed)."""
    sim, _model, _ = _simulate(CASES["the version-shape subroutine over the real capture"], 437)
    assert sim.out is not None and sim.out.endswith(b"[10/04/2020-17:48]\r\n")
    assert sim.out.count(b"shape [//-:]") == 1


def test_the_recorder_prints_a_canned_output_for_for_f(wine: dict[int, WinePrefix]) -> None:
    """CLPREC_OUT_<NAME>: the recorder prints that file instead of its line (and still records);
    a file it cannot read makes it exit 96."""
    prefix = wine[437]
    prefix.reset(set())
    prefix.write("C:\\pin\\cap.txt", capture_text().encode("ascii"))
    prefix.write(
        "C:\\pin\\t.bat",
        b"@echo off\r\n"
        b"for /f \"delims=\" %%L in ('wbadmin get versions') do >> C:\\pin\\out.txt echo [%%L]\r\n"
        b"wbadmin get versions > C:\\pin\\plain.txt\r\n",
    )
    [(_log, canned), (_log2, missing)] = prefix.launch(
        [
            Step(RUN, {"CLPREC_OUT_WBADMIN": "C:\\pin\\cap.txt"}),
            Step("wbadmin get versions", {"CLPREC_OUT_WBADMIN": "C:\\pin\\nosuch.txt"}),
        ]
    )
    want = "".join(f"[{line}]\r\n" for line in capture_text().split("\r\n") if line)
    assert canned.rc == 0 and prefix.read(OUT) == want.encode("ascii")
    assert prefix.read("C:\\pin\\plain.txt") == capture_text().encode("ascii")
    assert [r.argv[1:] for r in canned.records] == [("get", "versions")] * 2
    assert missing.rc == 96


def test_the_newest_first_case_finds_the_greatest_identifier() -> None:
    """Three versions, newest first: the subroutine keeps 10/04/2020-17:48 (no Wine needed)."""
    sim, _model, _ = _simulate(CASES["the version subroutine over a newest-first listing"], 437)
    assert sim.out is not None and sim.out.endswith(b"[10/04/2020-17:48]\r\n")
    assert sim.out.count(b"shape [//-:]") == 3
