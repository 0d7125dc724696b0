"""The simulated node's command-line parsing, cmd.exe statements and batch interpreter."""

from __future__ import annotations

import pytest

from clpbackup.testing.model import SimulatedWindows
from clpbackup.testing.model.batch import split_batch_args
from clpbackup.testing.model.cmd import parse_args, parse_redirections, split_program
from clpbackup.testing.model.node import STILL_ACTIVE


@pytest.mark.parametrize(
    ("text", "argv"),
    [
        ("a b c", ["a", "b", "c"]),
        ('"a b" c', ["a b", "c"]),
        (r'a\\b "c\"d"', [r"a\\b", 'c"d']),
        (r'"a\\" b', ["a\\", "b"]),
        (r'"a\\\" b"', ['a\\" b']),
        ('"a""b"', ['a"b']),
        ('-include:"C:\\My Data",E: -quiet', ["-include:C:\\My Data,E:", "-quiet"]),
        ('/LF"Tape Library"', ["/LFTape Library"]),
        ("", []),
    ],
)
def test_parse_args_follows_msvcrt_rules(text: str, argv: list[str]) -> None:
    assert parse_args(text) == argv


def test_split_program_keeps_the_raw_tail() -> None:
    assert split_program('"C:\\Program Files\\x.exe" /a "b c"') == ("C:\\Program Files\\x.exe", '/a "b c"')
    assert split_program('rsm refresh /LF"Lib 1"') == ("rsm", 'refresh /LF"Lib 1"')


def test_redirections_and_carets() -> None:
    assert parse_redirections('echo a ^> b > "C:\\x y.txt" 2>&1')[0] == "echo a > b  "
    text, redirs = parse_redirections('>"C:\\p.b64" echo QUJD')
    assert text.strip() == "echo QUJD"
    assert [(r.handle, r.target, r.append) for r in redirs] == [(1, "C:\\p.b64", False)]
    assert split_batch_args('"a b",c;d=e f') == ['"a b"', "c", "d", "e", "f"]


@pytest.fixture()
def node() -> SimulatedWindows:
    return SimulatedWindows("node-a", "2012", volumes=["G:"])


def run(node: SimulatedWindows, line: str) -> tuple[int, str, str]:
    rc, out, err = node.run_command_line(line)
    return rc, out.decode(node.encoding), err.decode(node.encoding)


def test_builtins_and_programs(node: SimulatedWindows) -> None:
    assert run(node, "hostname") == (0, "NODE-A\r\n", "")
    assert run(node, "ver")[1] == "\r\nMicrosoft Windows [Version 6.2.9200]\r\n"
    assert run(node, "chcp")[1] == "Active code page: 437\r\n"
    assert run(node, "C:\\Windows\\System32\\hostname.exe")[1] == "NODE-A\r\n"
    assert run(node, "whoami")[1] == "node-a\\administrator\r\n"
    rc, out, _ = run(node, 'if exist "%SystemRoot%\\system32\\wbadmin.exe" echo yes')
    assert (rc, out) == (0, "yes\r\n")
    assert run(node, "if exist G:\\ echo yes")[1] == "yes\r\n"
    assert run(node, "if exist H:\\ echo yes")[1] == ""


def test_random_is_a_number_from_0_to_32767_new_at_each_expansion(node: SimulatedWindows) -> None:
    # set /?: "%RANDOM% - expands to a random decimal number between 0 and 32767" (DRILL-1's token)
    node.write_file("C:\\r.bat", "@echo off\r\necho %RANDOM% %RANDOM% %RANDOM%\r\n")
    values = [int(x) for x in run(node, 'cmd /c "C:\\r.bat"')[1].split()]
    assert len(values) == 3 and all(0 <= v <= 32767 for v in values) and len(set(values)) > 1


def test_unknown_program_is_not_recognized_and_recorded(node: SimulatedWindows) -> None:
    rc, _out, err = run(node, "robocopy C:\\a C:\\b")
    assert rc == 9009
    assert err == (
        "'robocopy' is not recognized as an internal or external command,\r\n"
        "operable program or batch file.\r\n"
    )
    assert node.not_simulated and "robocopy" in node.not_simulated[0]


def test_unknown_program_ja_jp() -> None:
    node = SimulatedWindows("node-b", "2008R2", codepage=932)
    rc, _, err = node.run_command_line("nosuch")
    assert rc == 9009
    assert err.decode("cp932").startswith("'nosuch' は、内部コマンドまたは外部コマンド、")


def test_unsupported_syntax_is_not_simulated(node: SimulatedWindows) -> None:
    rc, _, err = run(node, 'echo a | find "a"')
    assert rc == 1 and "not simulated" in err
    assert node.not_simulated


def test_file_commands_round_trip(node: SimulatedWindows) -> None:
    assert run(node, 'if not exist "C:\\clp\\" mkdir "C:\\clp"')[0] == 0
    assert node.fs.is_dir("c:\\CLP")
    assert run(node, 'mkdir "C:\\clp"') == (1, "", "A subdirectory or file C:\\clp already exists.\r\n")
    assert run(node, 'echo hello>"C:\\clp\\a.txt"')[0] == 0
    assert run(node, '>>"C:\\clp\\a.txt" echo world')[0] == 0
    assert run(node, 'type "C:\\CLP\\A.TXT"')[1] == "hello\r\nworld\r\n"
    assert run(node, 'certutil -f -encode "C:\\clp\\a.txt" "%TEMP%\\x.b64"')[0] == 0
    _rc, b64, _ = run(node, 'type "%TEMP%\\x.b64"')
    assert b64.startswith("-----BEGIN CERTIFICATE-----\r\n") and b64.endswith("-----END CERTIFICATE-----\r\n")
    assert run(node, 'certutil -f -decode "%TEMP%\\x.b64" "C:\\clp\\b.tmp"')[0] == 0
    assert run(node, 'move /y "C:\\clp\\b.tmp" "C:\\clp\\b.txt"')[1] == "        1 file(s) moved.\r\n"
    assert node.fs.read_bytes("C:\\clp\\b.txt") == b"hello\r\nworld\r\n"
    assert run(node, 'type nul>"C:\\clp\\empty"')[0] == 0 and node.fs.read_bytes("C:\\clp\\empty") == b""
    assert run(node, 'del /q "C:\\clp\\b.txt"')[0] == 0 and not node.fs.exists("C:\\clp\\b.txt")
    assert run(node, 'type "C:\\clp\\nope"') == (1, "", "The system cannot find the file specified.\r\n")
    assert run(node, "echo x > Q:\\a.txt")[2] == "The system cannot find the drive specified.\r\n"


def test_cmd_c_quote_rules(node: SimulatedWindows) -> None:
    node.write_file("C:\\my scripts\\job.bat", "@echo off\r\necho ran %1\r\nexit /b 3\r\n")
    rc, out, _ = run(node, 'cmd /c "C:\\my scripts\\job.bat"')
    assert (rc, out) == (3, "ran \r\n")
    rc, out, _ = run(node, 'cmd /c ""C:\\my scripts\\job.bat" arg1"')
    assert (rc, out) == (3, "ran arg1\r\n")


@pytest.mark.parametrize("folder", ["C:\\clp;b", "C:\\clp,b", "C:\\clp=b"])
def test_cmd_c_of_a_path_without_blanks_ends_the_command_name_at_a_delimiter(
    node: SimulatedWindows, folder: str
) -> None:
    """Found by the Wine judge (#14): with no blank between the quotes ``cmd /c`` drops them
    (``cmd /?``) and, like any unquoted command, ends the name at ``, ; =``: ``C:\\clp`` is not
    recognized (9009). The model used to split the program name at blanks only and ran the file.
    With a blank in the path the quotes stay and the file runs."""
    for f in (folder, folder + " x"):
        node.write_file(f + "\\job.bat", "@echo off\r\necho ran\r\nexit /b 3\r\n")
    rc, out, err = run(node, f'cmd /c "{folder}\\job.bat"')
    assert (rc, out) == (9009, "") and "'C:\\clp' is not recognized" in err
    assert run(node, f'cmd /c "{folder} x\\job.bat"')[:2] == (3, "ran\r\n")


BATCH = (
    "@echo off\r\n"
    "rem a clpbackup-style batch file\r\n"
    "setlocal\r\n"
    'if not exist "C:\\clp\\logs\\" mkdir "C:\\clp\\logs"\r\n'
    'hostname > "C:\\clp\\logs\\job.log" 2>&1\r\n'
    'nosuch >> "C:\\clp\\logs\\job.log" 2>&1\r\n'
    "set RC=%ERRORLEVEL%\r\n"
    "ping -n 2 127.0.0.1 > nul\r\n"
    'if not "%RC%" == "0" goto failed\r\n'
    "echo not reached\r\n"
    ":failed\r\n"
    "echo 100%% done rc=%RC%\r\n"
    "exit /b %RC%\r\n"
)


def test_batch_subset(node: SimulatedWindows) -> None:
    node.write_file("C:\\clp\\job.bat", BATCH)
    rc, out, _err = run(node, 'cmd /c "C:\\clp\\job.bat"')
    assert rc == 9009
    assert out == "100% done rc=9009\r\n"
    log = node.read_text("C:\\clp\\logs\\job.log")
    assert log.startswith("NODE-A\r\n'nosuch' is not recognized")
    assert "RC" not in dict(node.env.items())  # setlocal kept it inside the batch file


def test_batch_clp_event_and_start(node: SimulatedWindows) -> None:
    node.write_file("C:\\clp\\failover.bat", "@echo off\r\necho %CLP_EVENT% > C:\\clp\\fo.txt\r\n")
    node.write_file(
        "C:\\clp\\start.bat",
        (
            '@echo off\r\ncd "%CLP_SCRIPT_PATH%"\r\nIF "%CLP_EVENT%" == "START" GOTO NORMAL\r\n'
            'if "%CLP_EVENT%" == "FAILOVER" start "" "C:\\clp\\failover.bat"\r\n:NORMAL\r\nexit 0\r\n'
        ),
    )
    rc = node.run_scheduled(
        '"C:\\clp\\start.bat"', env={"CLP_EVENT": "FAILOVER", "CLP_SCRIPT_PATH": "C:\\clp"}
    )
    assert rc == 0
    assert node.read_text("C:\\clp\\fo.txt") == "FAILOVER \r\n"
    assert not node.not_simulated


def test_start_of_a_batch_file_leaves_cmd_k_behind(node: SimulatedWindows) -> None:
    """start /?: a batch file or internal command started with START runs in cmd /K, which stays
    after the batch ends (exit /b ends the batch, not that cmd); cmd /c, or "exit" without /b, ends it."""
    node.write_file("C:\\clp\\b.bat", "@echo off\r\necho ran >> C:\\clp\\ran.txt\r\nexit /b 0\r\n")
    node.write_file("C:\\clp\\e.bat", "@echo off\r\necho ran >> C:\\clp\\ran.txt\r\nexit 0\r\n")
    node.write_file(
        "C:\\clp\\start.bat",
        '@echo off\r\nstart "" "C:\\clp\\b.bat"\r\nstart "" cmd /c "C:\\clp\\b.bat"\r\n'
        'start "" "C:\\clp\\e.bat"\r\nexit 0\r\n',
    )
    assert node.run_scheduled('"C:\\clp\\start.bat"') == 0
    assert node.read_text("C:\\clp\\ran.txt") == "ran \r\n" * 3
    assert [(p.program, p.arguments, p.rc) for p in node.processes] == [
        ("cmd", '/K "C:\\clp\\b.bat"', STILL_ACTIVE)
    ]
    assert node.processes[0] in node.history
    assert not node.not_simulated


def test_batch_echo_on_and_errors(node: SimulatedWindows) -> None:
    node.write_file("C:\\b.bat", "echo hi\r\ngoto nowhere\r\n")
    rc, out, err = run(node, "C:\\b.bat")
    assert "C:\\Users\\Administrator>echo hi\r\nhi\r\n" in out
    assert "The system cannot find the batch label specified - nowhere" in err
    node.write_file("C:\\c.bat", "@echo off\r\nif %UNSET% == x echo y\r\necho after\r\n")
    rc, out, err = run(node, "C:\\c.bat")
    assert rc == 255 and "after" not in out and "was unexpected at this time." in err


def test_winrs_command_set_of_design_md_on_2003() -> None:
    """Every line the WinRS session sends (docs/design.md, "WinRS command set") works on the model."""
    import base64

    node = SimulatedWindows("old", "2003", codepage=932, volumes=["E:"])
    p = "C:\\clpbackup\\job.bat"
    data = "@echo off\r\nrem 日本語\r\n".encode("cp932")
    b64 = base64.b64encode(data).decode()
    steps = [
        ("ver", 0),
        ("hostname", 0),
        ("chcp", 0),
        ("sc qc Schedule", 0),
        ("sc query Schedule", 0),
        ('if not exist "C:\\clpbackup\\" mkdir "C:\\clpbackup"', 0),
        ('if exist "C:\\clpbackup\\" echo yes', 0),
        ("if exist E:\\ echo yes", 0),
        ('echo clpbackup>"E:\\.clpbackup-probe-0a1b2c3d"', 0),
        ('del /q "E:\\.clpbackup-probe-0a1b2c3d"', 0),
        (f'>"{p}.clpbackup-b64" echo {b64[:8]}', 0),
        (f'>>"{p}.clpbackup-b64" echo {b64[8:]}', 0),
        (f'certutil -f -decode "{p}.clpbackup-b64" "{p}.clpbackup-tmp"', 0),
        (f'del /q "{p}.clpbackup-b64"', 0),
        (f'certutil -f -encode "{p}.clpbackup-tmp" "%TEMP%\\clpbackup-0a1b2c3d.b64"', 0),
        ('type "%TEMP%\\clpbackup-0a1b2c3d.b64"', 0),
        ('del /q "%TEMP%\\clpbackup-0a1b2c3d.b64"', 0),
        (f'move /y "{p}.clpbackup-tmp" "{p}"', 0),
        (f'if exist "{p}.clpbackup-tmp" del /q "{p}.clpbackup-tmp"', 0),
        (f'if exist "{p}" echo yes', 0),
        ('type nul>"C:\\clpbackup\\empty.txt"', 0),
        ('del /q "C:\\clpbackup\\empty.txt"', 0),
    ]
    outputs = {}
    for line, rc in steps:
        got_rc, out, err = node.run_command_line(line)
        assert got_rc == rc, (line, out, err)
        outputs[line] = out.decode("cp932")
    assert node.fs.read_bytes(p) == data
    assert outputs["ver"] == "\r\nMicrosoft Windows [Version 5.2.3790]\r\n"
    assert outputs["chcp"] == "現在のコード ページ: 932\r\n"
    assert "STATE              : 4  RUNNING" in outputs["sc query Schedule"]
    assert outputs["if exist E:\\ echo yes"] == "yes\r\n"
    assert not node.fs.exists("E:\\.clpbackup-probe-0a1b2c3d")
    assert node.not_simulated == []


def test_a_batch_line_past_8191_characters_stops_the_batch(node: SimulatedWindows) -> None:
    """KB 830473: cmd.exe reads at most 8191 characters of a line; the batch file ends there."""
    long_line = "echo " + "x" * 8190
    node.write_file("C:\\long.bat", f"@echo off\r\n{long_line}\r\necho after > C:\\after.txt\r\n")
    rc, _out, err = run(node, 'cmd /c "C:\\long.bat"')
    assert rc != 0 and "The input line is too long." in err
    assert not node.fs.exists("C:\\after.txt")
    node.write_file("C:\\fits.bat", "@echo off\r\necho " + "x" * 8180 + "\r\n")
    assert run(node, 'cmd /c "C:\\fits.bat"')[0] == 0


def test_paths_past_max_path_are_refused(node: SimulatedWindows) -> None:
    """MAX_PATH: a file path of 260 characters or more, a folder past 247, cannot be created."""
    from clpbackup.testing.model.fs import ERROR_FILENAME_EXCED_RANGE, FsError

    folder = "C:\\" + "\\".join(["d" * 48] * 5)  # 247
    node.fs.mkdir(folder)
    with pytest.raises(FsError) as info:
        node.fs.mkdir(folder + "x")
    assert info.value.winerror == ERROR_FILENAME_EXCED_RANGE
    node.fs.write_bytes(folder + "\\" + "f" * 11, b"ok")  # 259
    with pytest.raises(FsError):
        node.fs.write_bytes(folder + "\\" + "f" * 12, b"no")  # 260
