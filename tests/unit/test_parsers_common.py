"""Tests of clpbackup.parsers.common: decoding, line splitting, clock and date values."""

from __future__ import annotations

import codecs
from datetime import datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clpbackup.errors import ParseError
from clpbackup.parsers.common import (
    FormatProblem,
    decode,
    parse_clock,
    parse_local_datetime,
    split_blocks,
    split_lines,
)


def test_decode_cp932_japanese() -> None:
    data = "成功: スケジュール タスク \"x\" は正しく作成されました。\r\n".encode("cp932")
    assert decode(data, 932).startswith("成功: スケジュール タスク")


def test_decode_cp437_box_characters() -> None:
    assert decode(bytes([0xC4, 0xB3, 0x41]), 437) == "─│A"


def test_decode_bom_wins_over_codepage() -> None:
    data = codecs.BOM_UTF16_LE + "バックアップの状態\r\n".encode("utf-16-le")
    assert decode(data, 437) == "バックアップの状態\r\n"
    assert decode(codecs.BOM_UTF8 + "é".encode(), 932) == "é"


def test_decode_bomless_utf16le_is_recognised() -> None:
    assert decode("Backup Status\r\n".encode("utf-16-le"), 932) == "Backup Status\r\n"


def test_decode_invalid_cp932_names_the_codepage() -> None:
    with pytest.raises(ParseError, match="cp932") as info:
        decode(b"ok \x81\x20 broken", 932)
    assert "connection.codepage" in str(info.value)


def test_decode_unknown_codepage() -> None:
    with pytest.raises(ParseError, match="code page 1250"):
        decode(b"abc", 1250)


def test_split_lines_handles_crlf_cr_lf_but_not_nel() -> None:
    text = "\ufeffa\r\nb\rc\nd\x85e\u2028f  \r\n\r\n"
    assert split_lines(text) == ["a", "b", "c", "d\x85e\u2028f"]


def test_split_blocks() -> None:
    assert split_blocks(["", "a", "b", " ", "　", "c", ""]) == [["a", "b"], ["c"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3:00 AM", time(3, 0)),
        ("12:00 AM", time(0, 0)),
        ("12:30 PM", time(12, 30)),
        ("11:59 PM", time(23, 59)),
        ("4:30:15 pm", time(16, 30, 15)),
        ("15:00", time(15, 0)),
        ("03:00:00", time(3, 0)),
        ("午前 3:00", time(3, 0)),
        ("午後3:05", time(15, 5)),
        ("午前 0:00", time(0, 0)),
        ("午後 0:10:00", time(12, 10)),
    ],
)
def test_parse_clock(text: str, expected: time) -> None:
    assert parse_clock(text) == expected


@pytest.mark.parametrize("text", ["Never", "", "3", "N/A", "3:0", "12:00 XM"])
def test_parse_clock_not_a_clock(text: str) -> None:
    assert parse_clock(text) is None


@pytest.mark.parametrize("text", ["24:00", "13:00 PM", "0:30 AM", "10:61"])
def test_parse_clock_out_of_range(text: str) -> None:
    with pytest.raises(FormatProblem):
        parse_clock(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9/3/2022 11:13:13 AM", datetime(2022, 9, 3, 11, 13, 13)),
        ("2013/03/09 1:00:00", datetime(2013, 3, 9, 1, 0)),
        ("2013/03/09 午後 1:00:00", datetime(2013, 3, 9, 13, 0)),
        ("04:00:00, 3/9/2013", datetime(2013, 3, 9, 4, 0)),
        ("04:00:00, 03-09-2013", datetime(2013, 3, 9, 4, 0)),
        ("3/9/2013", datetime(2013, 3, 9, 0, 0)),
    ],
)
def test_parse_local_datetime(text: str, expected: datetime) -> None:
    assert parse_local_datetime(text) == expected


@pytest.mark.parametrize("text", ["Never", "N/A", "Disabled", "", "無効"])
def test_parse_local_datetime_markers_are_none(text: str) -> None:
    assert parse_local_datetime(text) is None


@pytest.mark.parametrize("text", ["13/45/2013 1:00 AM", "2013/02/30 1:00:00", "3/9/13 1:00", "3/9/2013 ab"])
def test_parse_local_datetime_bad_values(text: str) -> None:
    with pytest.raises(FormatProblem):
        parse_local_datetime(text)


@given(st.binary(max_size=200), st.sampled_from([437, 932, 65001, 1200]))
def test_decode_gives_text_or_parse_error(data: bytes, codepage: int) -> None:
    try:
        assert isinstance(decode(data, codepage), str)
    except ParseError:
        pass


@given(st.text(max_size=60))
def test_clock_and_datetime_only_raise_format_problem(text: str) -> None:
    for func in (parse_clock, parse_local_datetime):
        try:
            func(text)
        except FormatProblem:
            pass


def test_package_exports_resolve_and_functions_refuse_garbage() -> None:
    import clpbackup.parsers as parsers

    for name in parsers.__all__:
        assert getattr(parsers, name) is not None, name
    for func in (
        parsers.parse_versions,
        parsers.parse_backup_summary,
        parsers.parse_query_csv,
        parsers.parse_query_list,
        parsers.parse_query_xml,
        parsers.parse_create_output,
        parsers.parse_at_list,
        parsers.parse_at_created,
        parsers.parse_ntbackup_log,
        parsers.parse_clpstat,
    ):
        with pytest.raises(ParseError):
            func("\x00garbage that no Windows tool prints\x00")
