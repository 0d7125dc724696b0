"""winquote: argv → command line / batch line / PowerShell literal, checked against independent models."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from clpbackup.commands import Command
from clpbackup.errors import QuotingError
from clpbackup.winquote import (
    argument_string,
    batch_line,
    batch_path,
    batch_rem,
    check_codepage,
    cmd_c_path,
    command_line,
    ps_literal,
    quote_arg,
)
from tests.helpers.argv import (
    BatchParseError,
    batch_line_to_command_line,
    command_line_to_argv,
    split_redirection,
)
from tests.helpers.treesitter import batch_errors, powershell_errors

# -- the independent CommandLineToArgvW model, checked against documented examples -------------------


@pytest.mark.parametrize(
    ("line", "argv"),
    [
        # Microsoft's "Parsing C command-line arguments" table
        ('prog "a b c" d e', ["prog", "a b c", "d", "e"]),
        ('prog "ab\\"c" "\\\\" d', ["prog", 'ab"c', "\\", "d"]),
        ('prog a\\\\\\b d"e f"g h', ["prog", "a\\\\\\b", "de fg", "h"]),
        ('prog a\\\\\\"b c d', ["prog", 'a\\"b', "c", "d"]),
        ('prog a\\\\\\\\"b c" d e', ["prog", "a\\\\b c", "d", "e"]),
        # the program name is not unescaped
        ('"C:\\Program Files\\x.exe" a', ["C:\\Program Files\\x.exe", "a"]),
        ("prog", ["prog"]),
        ("prog   ", ["prog"]),
        ('prog ""', ["prog", ""]),
        ('prog "" ""', ["prog", "", ""]),
        ("prog\ta\t b", ["prog", "a", "b"]),
    ],
)
def test_argv_model_matches_documented_examples(line: str, argv: list[str]) -> None:
    assert command_line_to_argv(line) == argv


# -- quoting -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arg", "quoted"),
    [
        ("plain", "plain"),
        ("", '""'),
        ("a b", '"a b"'),
        ("C:\\dir\\", "C:\\dir\\"),  # no space: backslashes stay as they are
        ("C:\\my dir\\", '"C:\\my dir\\\\"'),  # trailing backslash doubled before the closing quote
        ('say "hi"', '"say \\"hi\\""'),
        ('a\\"b', '"a\\\\\\"b"'),
        ("tab\there", '"tab\there"'),
    ],
)
def test_quote_arg(arg: str, quoted: str) -> None:
    assert quote_arg(arg) == quoted
    assert command_line_to_argv("p " + quoted) == ["p", arg]


def test_forced_quotes_for_ntbackup_style_values() -> None:
    tail = argument_string(["backup", "@C:\\clpbackup\\j.bks", "/J", "j"], always_quote={1, 3})
    assert tail == 'backup "@C:\\clpbackup\\j.bks" /J "j"'
    assert command_line_to_argv("ntbackup " + tail)[1:] == ["backup", "@C:\\clpbackup\\j.bks", "/J", "j"]


def test_command_line_uses_raw_tail_verbatim() -> None:
    cmd = Command(("rsm", "refresh", "/LFTape Library"), "2003", raw_tail='refresh /LF"Tape Library"')
    assert command_line(cmd) == 'rsm refresh /LF"Tape Library"'
    assert cmd.command_line() == command_line(cmd)


def test_program_with_space_is_quoted_and_a_quote_is_refused() -> None:
    assert command_line(Command(("C:\\Program Files\\t.exe", "x"), "2012")) == '"C:\\Program Files\\t.exe" x'
    with pytest.raises(QuotingError):
        command_line(Command(('a"b', "x"), "2012"))


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b", "a\x1bb", "a\u2028b"])
def test_control_characters_are_refused_with_field_and_advice(bad: str) -> None:
    cmd = Command(("wbadmin", "start", "backup", "-include:" + bad), "2012", field="jobs.daily.include")
    with pytest.raises(QuotingError) as info:
        command_line(cmd)
    err = info.value
    assert err.field == "jobs.daily.include"
    assert "control character" in str(err) and "U+" in str(err)
    assert err.hint


# -- batch lines -------------------------------------------------------------------------------------


def test_batch_line_doubles_percent_and_escapes_operators_outside_quotes() -> None:
    cmd = Command(("tool", "50%", "a&b", "c d&e", "(x)", "^"), "2012", field="f")
    line = batch_line(cmd, 437)
    assert line == 'tool 50%% a^&b "c d&e" ^(x^) ^^'
    assert command_line_to_argv(batch_line_to_command_line(line)) == list(cmd.argv)


def test_batch_line_escapes_by_cmds_view_of_quotes_with_embedded_quotes() -> None:
    # schtasks /TR value with inner quotes: cmd sees `"cmd /c \"` as quoted, then an unquoted run.
    cmd = Command(("schtasks", "/TR", 'cmd /c "C:\\a&b\\x.bat"'), "2012", field="f")
    line = batch_line(cmd, 437)
    assert line == 'schtasks /TR "cmd /c \\"C:\\a^&b\\x.bat\\""'
    assert command_line_to_argv(batch_line_to_command_line(line)) == list(cmd.argv)


def test_batch_line_refuses_unbalanced_quote_and_bang() -> None:
    with pytest.raises(QuotingError, match="unbalanced"):
        batch_line(Command(("tool", 'a"b'), "2012", field="jobs.x.target"), 437)
    with pytest.raises(QuotingError, match="delayed expansion") as info:
        batch_line(Command(("tool", "wow!"), "2012", field="jobs.x.include"), 437)
    assert info.value.field == "jobs.x.include"


def test_codepage_japanese_path_fine_in_932_refused_in_437() -> None:
    cmd = Command(("wbadmin", "start", "backup", "-include:C:\\業務データ"), "2012", field="jobs.j.include")
    line = batch_line(cmd, 932)
    assert "業務データ" in line
    line.encode("cp932")
    with pytest.raises(QuotingError) as info:
        batch_line(cmd, 437)
    assert info.value.field == "jobs.j.include"
    assert "code page 437" in str(info.value) and "'業'" in str(info.value)
    assert "932" in (info.value.hint or "")


def test_check_codepage_refuses_characters_that_do_not_round_trip() -> None:
    check_codepage("Ä", codepage=1252, field="x")
    with pytest.raises(QuotingError):
        check_codepage("Ж", codepage=1252, field="x")


def test_cmd_c_path_refuses_parentheses_and_percent() -> None:
    assert cmd_c_path("C:\\my scripts", field="scripts_dir") == "C:\\my scripts"
    for bad in (
        "C:\\Program Files (x86)\\clp", "C:\\a%b", "C:\\a&b", 'C:\\a"b', "C:\\a!b", "C:\\@x",
        # cmd /c drops the quotes of a path without blanks, then splits it at , ; = (#14, Wine judge)
        "C:\\clp;b", "C:\\clp,b", "C:\\clp=b",
    ):
        with pytest.raises(QuotingError) as info:
            cmd_c_path(bad, field="scripts_dir")
        assert info.value.field == "scripts_dir"


def test_batch_path_and_rem() -> None:
    assert batch_path("C:\\業務", field="scripts_dir", codepage=932) == '"C:\\業務"'
    assert batch_rem("generated by clpbackup", codepage=437) == "rem generated by clpbackup"
    with pytest.raises(QuotingError):
        batch_rem("100%", codepage=437)
    with pytest.raises(QuotingError):
        batch_rem("trailing ^", codepage=437)


def test_generated_batch_lines_parse_with_tree_sitter() -> None:
    lines = [
        batch_line(Command(("tool", "50%", "a&b", "c d&e", "(x)"), "2012"), 437),
        batch_line(Command(("schtasks", "/TR", 'cmd /c "C:\\a b\\x.bat"', "/RU", "SYSTEM"), "2012"), 437),
        batch_line(Command(("rsm", "refresh", "/LFLib (1)"), "2003", raw_tail='refresh /LF"Lib (1)"'), 437),
    ]
    assert batch_errors("@echo off\r\n" + "".join(line + "\r\n" for line in lines)) == []


# -- PowerShell literals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", "'plain'"),
        ("it's", "'it''s'"),
        ("\u2018q\u2019", "'\u2018\u2018q\u2019\u2019'"),
        ("\u201a\u201b", "'\u201a\u201a\u201b\u201b'"),
        ("$env:x `n", "'$env:x `n'"),
        ("", "''"),
    ],
)
def test_ps_literal(value: str, literal: str) -> None:
    assert ps_literal(value) == literal
    assert powershell_errors("$x = " + literal) == []


def test_ps_literal_refuses_control_characters() -> None:
    with pytest.raises(QuotingError) as info:
        ps_literal("a\nb", field="cluster.start_script")
    assert info.value.field == "cluster.start_script"


def _ps_unquote(literal: str) -> str:
    """Read a single-quoted PowerShell literal back (independent of ps_literal)."""
    quotes = "'\u2018\u2019\u201a\u201b"
    assert literal[0] in quotes and literal[-1] in quotes
    body = literal[1:-1]
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch in quotes:
            assert i + 1 < len(body) and body[i + 1] in quotes, f"lone quote in {literal!r}"
            out.append(ch)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# -- properties --------------------------------------------------------------------------------------

_chars = st.characters(codec="utf-8", exclude_categories=("Cs",))
_interesting = st.sampled_from([*' \t"\\&|<>^()%!,;=@\u2018\u2019\n\r\x00\x7f', "業", "ä"])
# two parts in three from the characters that matter to cmd.exe and CommandLineToArgvW
_arg = st.text(st.one_of(_interesting, _interesting, _chars), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(_arg, min_size=0, max_size=5))
def test_property_command_line_round_trips_or_refuses(tail: list[str]) -> None:
    cmd = Command(("prog", *tail), "2012", field="jobs.p.include")
    try:
        line = command_line(cmd)
    except QuotingError as err:
        assert err.field == "jobs.p.include"
        assert any(not c.isprintable() and c != "\t" for c in "".join(tail)) or any(
            c in "\u2028\u2029" for c in "".join(tail)
        )
        return
    assert command_line_to_argv(line) == ["prog", *tail]


@settings(max_examples=300, deadline=None)
@given(st.lists(_arg, min_size=0, max_size=5), st.sampled_from([437, 932, 1252]))
@example(["50%", "%PATH%"], 437)
@example(['a "b" &c', "(x)^|y"], 437)
@example(["\\", 'C:\\my dir\\', "\u00a0"], 437)
@example(["C:\\業務データ", "ソ表"], 932)
def test_property_batch_line_round_trips_through_cmd_and_argv_or_refuses(tail: list[str], cp: int) -> None:
    cmd = Command(("prog", *tail), "2012", field="jobs.p.target")
    try:
        line = batch_line(cmd, cp)
    except QuotingError as err:
        assert err.field == "jobs.p.target"
        return
    line.encode(f"cp{cp}")
    try:
        started = batch_line_to_command_line(line)
    except BatchParseError as exc:  # pragma: no cover - a failure here is the bug we look for
        pytest.fail(f"cmd.exe would misread {line!r}: {exc}")
    assert command_line_to_argv(started) == ["prog", *tail]
    # and a redirection appended to it is still seen as a redirection
    red = split_redirection(line + ' > "C:\\l.log" 2>&1')
    assert red.target == "C:\\l.log" and red.stderr_to_stdout
    assert command_line_to_argv(batch_line_to_command_line(red.command)) == ["prog", *tail]


@settings(max_examples=300, deadline=None)
@given(st.text(st.one_of(_chars, _interesting), max_size=20))
def test_property_ps_literal_round_trips_or_refuses(value: str) -> None:
    try:
        literal = ps_literal(value, field="f")
    except QuotingError as err:
        assert err.field == "f"
        return
    assert _ps_unquote(literal) == value
