"""Tests of clpbackup.parsers.schtasks against the fixtures (2003, 2008 R2, 2012; en-US, ja-JP)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clpbackup.errors import ParseError
from clpbackup.parsers.schtasks import (
    ScheduledTask,
    parse_create_output,
    parse_delete_output,
    parse_end_output,
    parse_query_csv,
    parse_query_list,
    parse_query_xml,
    parse_run_output,
)
from tests.helpers.parsers import all_fixtures, fixture_text, mutated


def _csv(where: str) -> list[ScheduledTask]:
    return parse_query_csv(fixture_text("schtasks", where, "query-csv-v.txt"))


def _by_name(tasks: list[ScheduledTask]) -> dict[str, ScheduledTask]:
    return {t.name: t for t in tasks}


def test_csv_2003_en_v1_columns_times_first_and_merge() -> None:
    tasks = _by_name(_csv("2003-en-US"))
    assert list(tasks) == [
        "clpbackup-prod-db-local-daily",
        "clpbackup-prod-db-shared-daily",
        "At1",
        "clpbackup-prod-db-shared-daily-once",
    ]
    local = tasks["clpbackup-prod-db-local-daily"]
    assert local.next_run == datetime(2013, 3, 8, 1, 0)
    assert local.last_run == datetime(2013, 3, 7, 1, 0)
    assert local.last_result == 0
    assert local.status is None and local.state == "ready"  # 2003: empty Status = idle
    assert local.task_to_run == "C:\\clpbackup\\local-daily.bat"
    assert local.run_as_user == "NT AUTHORITY\\SYSTEM"
    assert [t.start_time for t in local.triggers] == [time(1, 0), time(13, 0)]
    assert local.schedule_type == "Daily" and local.kind == "daily" and local.start_time == time(1, 0)
    assert local.days == "Every 1 day(s)"
    assert local.triggers[0].start_date == date(2013, 3, 1)
    shared = tasks["clpbackup-prod-db-shared-daily"]
    assert shared.last_run is None and shared.last_run_text == "Never"
    at1 = tasks["At1"]
    assert at1.state == "running" and at1.last_result == 1 and at1.kind == "weekly"
    assert at1.task_to_run == 'cmd /c "C:\\clpbackup\\failover.bat"'
    assert at1.days == "MON, TUE, WED, THU, FRI"
    once = tasks["clpbackup-prod-db-shared-daily-once"]
    assert once.next_run is None and once.next_run_text == "Disabled"
    assert once.enabled is False and once.kind == "once"


def test_csv_2003_ja_v1() -> None:
    tasks = _by_name(_csv("2003-ja-JP"))
    local = tasks["clpbackup-prod-db-local-daily"]
    assert local.next_run == datetime(2013, 3, 8, 1, 0)
    assert local.kind == "daily" and local.enabled is True
    shared = tasks["clpbackup-prod-db-shared-daily"]
    assert shared.state == "running" and shared.last_run is None
    assert shared.start_time == time(4, 30)


def test_csv_2008r2_en_repeated_header_never_date_and_folder() -> None:
    tasks = _by_name(_csv("2008r2-en-US"))
    assert list(tasks) == [
        "clpbackup-prod-db-local-daily",
        "clpbackup-prod-db-shared-daily",
        "Maintenance\\Weekly Defrag",
    ]
    shared = tasks["clpbackup-prod-db-shared-daily"]
    assert shared.last_run is None  # 11/30/1999 12:00:00 AM = never ran
    assert shared.last_result == 267011
    assert shared.task_to_run == 'cmd /c "C:\\clpbackup\\shared-daily.bat"'
    assert shared.host == "NODE-A" and shared.author == "NODE-A\\Administrator"
    assert shared.run_as_user == "SYSTEM" and shared.start_time == time(3, 0)
    defrag = tasks["Maintenance\\Weekly Defrag"]
    assert [(t.kind, t.days, t.start_time) for t in defrag.triggers] == [
        ("weekly", "MON", time(2, 0)),
        ("weekly", "FRI", time(21, 30)),
    ]


def test_csv_2008r2_ja() -> None:
    tasks = _by_name(_csv("2008r2-ja-JP"))
    local = tasks["clpbackup-prod-db-local-daily"]
    assert local.status == "準備完了" and local.state == "ready"
    assert local.last_run == datetime(2013, 3, 7, 1, 0)
    assert local.schedule_type == "毎日" and local.kind == "daily"
    shared = tasks["clpbackup-prod-db-shared-daily"]
    assert shared.last_run is None and shared.last_result == 267011  # 1999/11/30 = never
    once = tasks["clpbackup-prod-db-shared-daily-once"]
    assert once.kind == "once" and once.state == "disabled" and once.enabled is False
    assert once.next_run is None and once.triggers[0].start_date == date(2013, 3, 9)


def test_csv_2012_en_running_and_large_result() -> None:
    tasks = _by_name(_csv("2012-en-US"))
    assert tasks["clpbackup-prod-db-local-daily"].state == "running"
    assert tasks["clpbackup-prod-db-shared-daily"].last_result == 2147942402
    once = tasks["clpbackup-prod-db-shared-daily-once"]
    assert once.kind == "once" and once.next_run == datetime(2013, 3, 8, 5, 0)


@pytest.mark.parametrize("where", ["2003-en-US", "2003-ja-JP", "2008r2-en-US", "2008r2-ja-JP", "2012-ja-JP"])
def test_list_and_csv_give_the_same_tasks(where: str) -> None:
    listed = parse_query_list(fixture_text("schtasks", where, "query-list-v.txt"))
    assert listed == _csv(where)
    assert listed  # not vacuous


def test_list_2019_en_in_the_captured_format() -> None:
    # the layout of a real 2019 capture (shared/reference/outputs): same fields as 2008 R2 / 2012
    (task,) = parse_query_list(fixture_text("schtasks", "2019-en-US", "query-list-v.txt"))
    assert task.name == "clpbackup-prod-db-local-daily" and task.host == "NODE-A"
    assert task.state == "ready" and task.enabled is True and task.last_result == 0
    assert task.last_run == datetime(2026, 3, 31, 1, 0) and task.next_run == datetime(2026, 4, 1, 1, 0)
    assert task.task_to_run == 'cmd /c "C:\\clpbackup\\local-daily.bat"' and task.run_as_user == "SYSTEM"
    assert task.kind == "daily" and task.triggers[0].start_date == date(2026, 3, 31)


def test_list_2012_ja_padded_by_display_width() -> None:
    tasks = _by_name(parse_query_list(fixture_text("schtasks", "2012-ja-JP", "query-list-v.txt")))
    shared = tasks["clpbackup-prod-db-shared-daily"]
    assert shared.state == "running" and shared.last_result == 267009
    assert shared.comment is None and shared.start_in is None


def test_layout_detected_from_names_without_header() -> None:
    text = fixture_text("schtasks", "2008r2-en-US", "query-csv-v.txt")
    body = "\n".join(line for line in text.splitlines() if not line.startswith('"HostName"'))
    assert parse_query_csv(body) == _csv("2008r2-en-US")
    text = fixture_text("schtasks", "2003-en-US", "query-csv-v.txt")
    body = "\n".join(text.splitlines()[1:])
    assert parse_query_csv(body) == _csv("2003-en-US")


def test_unknown_header_language_still_parsed_by_position() -> None:
    text = fixture_text("schtasks", "2008r2-en-US", "query-csv-v.txt")
    header = text.splitlines()[0]
    other = ",".join(f'"Spalte {i}"' for i in range(28))  # a header in no known language
    assert parse_query_csv(text.replace(header, other)) == _csv("2008r2-en-US")


def test_forced_layout_changes_the_reading() -> None:
    text = fixture_text("schtasks", "2008r2-en-US", "query-csv-v.txt")
    # Read as v1, "Task To Run" is taken from the Start In column: the caller's choice wins.
    assert parse_query_csv(text, layout="v1")[0].task_to_run is None


def test_mixed_names_without_header_cannot_be_told_apart() -> None:
    rows = _csv_rows("2008r2-en-US")
    rows[1] = rows[1].replace('"\\clpbackup-prod-db-local-daily"', '"clpbackup-prod-db-local-daily"')
    with pytest.raises(ParseError, match="layout"):
        parse_query_csv("\n".join(rows[1:3]))


def _csv_rows(where: str) -> list[str]:
    return fixture_text("schtasks", where, "query-csv-v.txt").splitlines()


def test_wrong_field_count_raises() -> None:
    rows = _csv_rows("2012-en-US")
    rows[1] = rows[1].rsplit(",", 1)[0]
    with pytest.raises(ParseError, match="27 fields"):
        parse_query_csv("\n".join(rows))


def test_bad_date_value_raises() -> None:
    rows = _csv_rows("2012-en-US")
    rows[1] = rows[1].replace('"3/7/2013 1:00:00 AM"', '"3/77/2013 1:00:00 AM"').replace(
        '"3/8/2013 1:00:00 AM","Running","Interactive/Background","3/8/2013 1:00:00 AM"',
        '"3/8/2013 1:00:00 AM","Running","Interactive/Background","3/88/2013 1:00:00 AM"',
    )
    with pytest.raises(ParseError, match="last run time"):
        parse_query_csv("\n".join(rows))


@pytest.mark.parametrize("name", ["query-not-found.txt", "query-no-matching.txt"])
def test_query_not_found_is_empty(name: str) -> None:
    text = fixture_text("schtasks", "2012-en-US", name)
    assert parse_query_csv(text) == [] and parse_query_list(text) == []


def test_query_not_found_ja_is_empty() -> None:
    assert parse_query_csv(fixture_text("schtasks", "2012-ja-JP", "query-not-found.txt")) == []


def test_query_other_error_raises_with_message() -> None:
    with pytest.raises(ParseError, match="Access is denied"):
        parse_query_csv(fixture_text("schtasks", "2012-en-US", "query-access-denied.txt"))


def test_xml_single_task_without_uri_needs_a_name() -> None:
    text = fixture_text("schtasks", "2008r2-en-US", "query-xml-one.xml")
    with pytest.raises(ParseError, match="name"):
        parse_query_xml(text)
    (task,) = parse_query_xml(text, name="\\clpbackup-prod-db-local-daily")
    assert task.name == "clpbackup-prod-db-local-daily"
    assert task.run_as_user == "SYSTEM"  # S-1-5-18
    assert task.command == "C:\\clpbackup\\local-daily.bat" and task.arguments is None
    assert task.task_to_run == "C:\\clpbackup\\local-daily.bat"
    (trigger,) = task.triggers
    assert (trigger.kind, trigger.start_time, trigger.start_date, trigger.days, trigger.enabled) == (
        "daily", time(1, 0), date(2013, 3, 1), "1", True,
    )
    assert task.enabled is True and task.last_run is None and task.next_run is None


def test_xml_all_tasks_names_from_comments() -> None:
    tasks = _by_name(parse_query_xml(fixture_text("schtasks", "2012-en-US", "query-xml-all.xml")))
    assert list(tasks) == [
        "clpbackup-prod-db-shared-daily",
        "clpbackup-prod-db-shared-daily-once",
        "Maintenance\\Weekly Defrag",
    ]
    shared = tasks["clpbackup-prod-db-shared-daily"]
    assert shared.task_to_run == 'cmd.exe /c "C:\\clpbackup\\shared-daily.bat"'
    assert shared.start_in == "C:\\clpbackup"
    once = tasks["clpbackup-prod-db-shared-daily-once"]
    assert once.kind == "once" and once.enabled is False and once.state == "disabled"
    assert once.triggers[0].start_date == date(2013, 3, 8)
    defrag = tasks["Maintenance\\Weekly Defrag"]
    assert [(t.kind, t.days_of_week, t.enabled) for t in defrag.triggers] == [
        ("weekly", ("MON", "FRI"), True),
        ("onstart", (), False),
    ]
    assert defrag.run_as_user == "NODE-A\\backup-admin"


def test_xml_ja_local_time_offset_ignored() -> None:
    (task,) = parse_query_xml(fixture_text("schtasks", "2012-ja-JP", "query-xml-one.xml"))
    assert task.name == "clpbackup-prod-db-shared-daily"
    assert task.author == "NODE-B\\管理者"
    assert task.comment == "clpbackup: 切替パーティションのバックアップ"
    assert task.start_time == time(4, 30)


@pytest.mark.parametrize(
    "text",
    [
        '<!DOCTYPE x [<!ENTITY a "b">]><Task/>',
        "<Task><Triggers>",
        "<Other/>",
        '<Task><RegistrationInfo><URI>\\x</URI></RegistrationInfo><Settings><Enabled>maybe</Enabled></Settings></Task>',
        '<Task><RegistrationInfo><URI>\\x</URI></RegistrationInfo><Triggers><TimeTrigger>'
        "<StartBoundary>2013-02-30T01:00:00</StartBoundary></TimeTrigger></Triggers></Task>",
        "",
    ],
)
def test_xml_bad_inputs_raise(text: str) -> None:
    with pytest.raises(ParseError):
        parse_query_xml(text)


def test_xml_not_found_message_is_empty() -> None:
    assert parse_query_xml("ERROR: The system cannot find the file specified.\r\n") == []


# ------------------------------------------------------------------ messages


def test_create_success_en_2003_with_info() -> None:
    out = parse_create_output(fixture_text("schtasks", "2003-en-US", "create-success.txt"))
    assert out.ok and out.action == "create" and not out.not_found
    assert [m.level for m in out.messages] == ["info", "success"]
    assert out.task_name == "clpbackup-prod-db-local-daily"


@pytest.mark.parametrize("where", ["2003-ja-JP", "2008r2-en-US", "2012-en-US", "2012-ja-JP"])
def test_create_success(where: str) -> None:
    out = parse_create_output(fixture_text("schtasks", where, "create-success.txt"))
    assert out.ok and out.errors == () and out.task_name is not None
    assert out.task_name.startswith("clpbackup-prod-db-")


@pytest.mark.parametrize("where", ["2012-en-US", "2012-ja-JP"])
def test_create_with_st_warning_is_still_ok(where: str) -> None:
    out = parse_create_output(fixture_text("schtasks", where, "create-st-warning.txt"))
    assert out.ok
    assert [m.level for m in out.messages] == ["warning", "success"]
    assert "/ST" in out.messages[0].text


@pytest.mark.parametrize("where", ["2012-en-US", "2012-ja-JP"])
def test_create_tr_too_long(where: str) -> None:
    out = parse_create_output(fixture_text("schtasks", where, "create-tr-too-long.txt"))
    assert not out.ok and out.tr_too_long and not out.not_found
    assert "261" in out.errors[0]


def test_create_tr_error_continuation_line_joined() -> None:
    out = parse_create_output(fixture_text("schtasks", "2012-en-US", "create-tr-too-long.txt"))
    assert len(out.messages) == 1 and out.errors[0].endswith('Type "SCHTASKS /CREATE /?" for usage.')


def test_run_success_and_already_running_ja() -> None:
    out = parse_run_output(fixture_text("schtasks", "2008r2-en-US", "run-success.txt"))
    assert out.ok and out.action == "run"
    out = parse_run_output(fixture_text("schtasks", "2012-ja-JP", "run-already-running.txt"))
    assert out.ok and [m.level for m in out.messages] == ["info", "success"]
    assert out.task_name == "clpbackup-prod-db-shared-daily"


@pytest.mark.parametrize(
    ("where", "name", "ok", "not_found"),
    [
        ("2003-en-US", "delete-not-found.txt", False, True),
        ("2008r2-ja-JP", "delete-not-found.txt", False, True),
        ("2008r2-ja-JP", "delete-success.txt", True, False),
        ("2012-en-US", "delete-success.txt", True, False),
    ],
)
def test_delete(where: str, name: str, ok: bool, not_found: bool) -> None:
    out = parse_delete_output(fixture_text("schtasks", where, name))
    assert (out.ok, out.not_found) == (ok, not_found)


@pytest.mark.parametrize(
    ("where", "name", "ok", "not_found"),
    [
        ("2008r2-en-US", "end-not-found.txt", False, True),
        ("2012-en-US", "end-success.txt", True, False),
        ("2012-ja-JP", "end-success.txt", True, False),
    ],
)
def test_end(where: str, name: str, ok: bool, not_found: bool) -> None:
    out = parse_end_output(fixture_text("schtasks", where, name))
    assert (out.ok, out.not_found, out.action) == (ok, not_found, "end")


@pytest.mark.parametrize("text", ["", "\r\n", "Access is denied.", "The request is not supported.\r\n"])
def test_messages_unrecognised_raise(text: str) -> None:
    for func in (parse_create_output, parse_run_output, parse_delete_output, parse_end_output):
        with pytest.raises(ParseError):
            func(text)


# ------------------------------------------------------------------ robustness

QUERY_FIXTURES = all_fixtures("schtasks", "query-*-v.txt")
XML_FIXTURES = all_fixtures("schtasks", "*.xml")
MESSAGE_FIXTURES = [f for f in all_fixtures("schtasks", "*.txt") if not f[1].startswith("query-")]


def test_fixture_sets_cover_oses_and_locales() -> None:
    wheres = {w for w, _ in QUERY_FIXTURES}
    assert wheres == {
        "2003-en-US", "2003-ja-JP", "2008r2-en-US", "2008r2-ja-JP", "2012-en-US", "2012-ja-JP", "2019-en-US"
    }
    assert len(XML_FIXTURES) == 3 and len(MESSAGE_FIXTURES) >= 15


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_query_mutated_gives_result_or_parse_error(data: st.DataObject) -> None:
    where, name = data.draw(st.sampled_from(QUERY_FIXTURES))
    text = data.draw(mutated(fixture_text("schtasks", where, name)))
    for func in (parse_query_csv, parse_query_list):
        try:
            tasks = func(text)
        except ParseError:
            continue
        assert all(isinstance(t, ScheduledTask) and t.name for t in tasks)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_xml_mutated_gives_result_or_parse_error(data: st.DataObject) -> None:
    where, name = data.draw(st.sampled_from(XML_FIXTURES))
    text = data.draw(mutated(fixture_text("schtasks", where, name)))
    try:
        parse_query_xml(text, name=data.draw(st.sampled_from([None, "x"])))
    except ParseError:
        pass


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_messages_mutated_give_result_or_parse_error(data: st.DataObject) -> None:
    where, name = data.draw(st.sampled_from(MESSAGE_FIXTURES))
    text = data.draw(mutated(fixture_text("schtasks", where, name)))
    try:
        out = parse_create_output(text)
    except ParseError:
        return
    assert out.messages


@given(st.text(max_size=300))
def test_random_text_gives_result_or_parse_error(text: str) -> None:
    for func in (parse_query_csv, parse_query_list, parse_query_xml, parse_run_output):
        try:
            func(text)
        except ParseError:
            pass


def test_csv_nh_first_row_with_odd_result_is_not_a_header() -> None:
    rows = _csv_rows("2012-en-US")
    rows[1] = rows[1].replace('"267009"', '"N/A"')
    tasks = parse_query_csv("\n".join(rows[1:]))  # as /nh prints it: no header
    assert tasks[0].name == "clpbackup-prod-db-local-daily"
    assert tasks[0].last_result is None and len(tasks) == 3
