"""Tests of clpbackup.parsers.at against the fixtures (2003, 2008 R2, 2012; en-US, ja-JP)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clpbackup.errors import ParseError
from clpbackup.parsers.at import AtJob, parse_at_created, parse_at_job, parse_at_list
from tests.helpers.parsers import all_fixtures, fixture_text, mutated

ALL_DAYS = ("M", "T", "W", "Th", "F", "S", "Su")
LOCAL = 'cmd /c "C:\\clpbackup\\local-daily.bat"'
SHARED = 'cmd /c "C:\\clpbackup\\shared-daily.bat"'


def _list(where: str) -> list[AtJob]:
    return parse_at_list(fixture_text("at", where, "list-jobs.txt"))


def test_list_2003_en_all_day_forms() -> None:
    jobs = _list("2003-en-US")
    assert [(j.job_id, j.kind, j.days, j.time) for j in jobs] == [
        (1, "each", ALL_DAYS, "01:00"),
        (2, "each", ALL_DAYS, "03:00"),
        (3, "tomorrow", (), "05:00"),
        (4, "each", ("1", "15"), "23:30"),
        (5, "next", ("F",), "12:00"),
    ]
    assert jobs[0].command == LOCAL and jobs[0].status is None and not jobs[0].failed
    assert jobs[0].schedule == "Each M T W Th F S Su" and jobs[0].recurring
    assert jobs[2].status == "ERROR" and jobs[2].failed and not jobs[2].recurring
    assert jobs[4].command == 'ntbackup.exe backup systemstate /J "state" /F "D:\\state.bkf"'


def test_list_2003_ja_twelve_hour_clock() -> None:
    jobs = _list("2003-ja-JP")
    assert [(j.job_id, j.kind, j.days, j.time, j.command) for j in jobs] == [
        (1, "each", ALL_DAYS, "01:00", LOCAL),
        (2, "each", ALL_DAYS, "03:00", SHARED),
        (3, "tomorrow", (), "17:30", SHARED),
    ]


def test_list_2008r2_en_today() -> None:
    jobs = _list("2008r2-en-US")
    assert [(j.kind, j.time) for j in jobs] == [("each", "01:00"), ("today", "05:00")]


def test_list_2008r2_ja_every_day_weekdays_next() -> None:
    jobs = _list("2008r2-ja-JP")
    assert [(j.job_id, j.kind, j.days, j.time) for j in jobs] == [
        (1, "each", ALL_DAYS, "01:00"),
        (2, "each", ("M", "W", "F"), "15:00"),
        (7, "next", ("F",), "05:00"),
    ]
    assert jobs[1].schedule == "毎週 月 水 金"


def test_list_2012_banner_skipped() -> None:
    jobs = _list("2012-en-US")
    assert [(j.job_id, j.kind, j.command) for j in jobs] == [(1, "each", LOCAL), (2, "tomorrow", SHARED)]


def test_list_2012_ja_byte_padded_columns() -> None:
    jobs = _list("2012-ja-JP")
    assert [(j.job_id, j.kind, j.days, j.time, j.command) for j in jobs] == [
        (1, "each", ALL_DAYS, "01:00", LOCAL),
        (2, "today", (), "05:00", SHARED),
    ]


@pytest.mark.parametrize(
    "where", ["2003-en-US", "2003-ja-JP", "2008r2-en-US", "2012-en-US", "2012-ja-JP"]
)
def test_list_empty(where: str) -> None:
    assert parse_at_list(fixture_text("at", where, "list-empty.txt")) == []


def test_list_documentation_sample_widths() -> None:
    text = (
        "Status  ID   Day        time        Command Line\n"
        "OK      1    Each F     4:30 PM     net send group leads status due\n"
        "OK      2    Each M     12:00 AM    chkstor > check.file\n"
    )
    jobs = parse_at_list(text)
    assert [(j.status, j.job_id, j.days, j.time, j.command) for j in jobs] == [
        ("OK", 1, ("F",), "16:30", "net send group leads status due"),
        ("OK", 2, ("M",), "00:00", "chkstor > check.file"),
    ]
    assert not jobs[0].failed


def test_list_24h_time_followed_by_am_command() -> None:
    (job,) = parse_at_list("        1   Today                   15:00         amd.exe /x\n")
    assert (job.time, job.command) == ("15:00", "amd.exe /x")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Access is denied.\n",
        "The service has not been started.\n",
        "        1   Each Q                  1:00 AM       x.bat\n",
        "        1   Each M                  25:00         x.bat\n",
        "There are no entries in the list.\n        1   Today   1:00 AM   x.bat\n",
    ],
)
def test_list_unrecognised_raises(text: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_at_list(text)
    assert info.value.tool == "at"


@pytest.mark.parametrize(
    ("where", "job_id"),
    [("2003-en-US", 3), ("2003-ja-JP", 3), ("2008r2-en-US", 2), ("2008r2-ja-JP", 2), ("2012-en-US", 1),
     ("2012-ja-JP", 1)],
)
def test_created(where: str, job_id: int) -> None:
    assert parse_at_created(fixture_text("at", where, "created.txt")) == job_id


def test_created_refusal_raises_with_the_text() -> None:
    with pytest.raises(ParseError, match="service has not been started"):
        parse_at_created(fixture_text("at", "2003-en-US", "refused-service.txt"))


def test_job_view() -> None:
    job = parse_at_job(fixture_text("at", "2003-en-US", "job-view.txt"))
    assert (job.job_id, job.status, job.kind, job.days, job.time, job.command) == (
        1, "OK", "each", ALL_DAYS, "01:00", LOCAL,
    )


def test_job_view_doc_sample_double_space() -> None:
    text = "Task ID: 1\nStatus: OK\nSchedule: Each  F\nTime of Day: 4:30 PM\nCommand: net send x\n"
    job = parse_at_job(text)
    assert (job.schedule, job.days, job.time) == ("Each F", ("F",), "16:30")


@pytest.mark.parametrize(
    "text", ["", "Task ID: 1\n", "Task ID: x\nStatus:\nSchedule: Today\nTime of Day: 1:00\nC: d\n"]
)
def test_job_view_bad(text: str) -> None:
    with pytest.raises(ParseError):
        parse_at_job(text)


LIST_FIXTURES = all_fixtures("at", "list-*.txt")


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_list_mutated_gives_result_or_parse_error(data: st.DataObject) -> None:
    where, name = data.draw(st.sampled_from(LIST_FIXTURES))
    text = data.draw(mutated(fixture_text("at", where, name)))
    try:
        jobs = parse_at_list(text)
    except ParseError:
        return
    for job in jobs:
        assert len(job.time) == 5 and job.time[2] == ":"


@given(st.text(max_size=200))
def test_random_text_gives_result_or_parse_error(text: str) -> None:
    for func in (parse_at_list, parse_at_created, parse_at_job):
        try:
            func(text)
        except ParseError:
            pass
