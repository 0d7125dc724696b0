"""Task Scheduler (schtasks) and AT on the simulated node, read back with clpbackup's parsers."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from clpbackup.parsers import at as at_parser
from clpbackup.parsers import schtasks as sch_parser
from clpbackup.testing.model import SimClock, SimulatedWindows


def run(node: SimulatedWindows, line: str) -> tuple[int, str, str]:
    rc, out, err = node.run_command_line(line)
    return rc, out.decode(node.encoding), err.decode(node.encoding)


def make(os: str = "2012", codepage: int = 437) -> SimulatedWindows:
    node = SimulatedWindows("node-a", os, codepage=codepage)
    node.write_file("C:\\clp\\job.bat", "@echo off\r\necho ran>>C:\\clp\\ran.txt\r\nexit /b 0\r\n")
    return node


def test_create_requires_f_to_replace() -> None:
    node = make()
    line = 'schtasks /Create /TN clpbackup-c-J /TR "C:\\clp\\job.bat" /SC DAILY /ST 01:00 /RU SYSTEM'
    assert run(node, line) == (
        0,
        'SUCCESS: The scheduled task "clpbackup-c-J" has successfully been created.\r\n',
        "",
    )
    assert run(node, line) == (1, "", "ERROR: Cannot create a file when that file already exists.\r\n")
    assert run(node, line + " /F")[0] == 0
    assert run(node, "schtasks /Delete /TN clpbackup-c-J /F")[1] == (
        'SUCCESS: The scheduled task "clpbackup-c-J" was successfully deleted.\r\n'
    )
    assert run(node, "schtasks /Delete /TN clpbackup-c-J /F") == (
        1,
        "",
        "ERROR: The system cannot find the file specified.\r\n",
    )


def test_create_errors_ja_jp() -> None:
    node = make("2008R2", 932)
    rc, _, err = run(node, 'schtasks /Create /TN t /TR "' + "x" * 262 + '" /SC ONCE /ST 05:00')
    assert (
        rc == 1
        and err == "エラー: '/TR' のオプションの値を 261 文字より多い文字で指定することはできません。\r\n"
    )
    rc, out, _ = run(node, 'schtasks /Create /TN t /TR "C:\\clp\\job.bat" /SC ONCE /ST 00:00 /F')
    assert rc == 0 and out.startswith("警告: /ST が現時刻よりも早いため")
    assert run(node, "schtasks /Query /TN nope") == (
        1,
        "",
        "エラー: 指定されたファイルが見つかりません。\r\n",
    )


def test_2003_needs_seconds_and_has_no_tn_query() -> None:
    node = make("2003")
    assert run(node, 'schtasks /Create /TN t /TR "C:\\clp\\job.bat" /SC DAILY /ST 01:00')[2] == (
        "ERROR: Invalid Start Time value.\r\n"
    )
    assert (
        run(node, 'schtasks /Create /TN t /TR "C:\\clp\\job.bat" /SC DAILY /ST 01:00:00 /RU SYSTEM')[0] == 0
    )
    assert run(node, "schtasks /Query /TN t")[0] == 1


@pytest.mark.parametrize(("os", "cp"), [("2003", 437), ("2003", 932), ("2008R2", 437), ("2012", 932)])
def test_query_formats_parse(os: str, cp: int) -> None:
    node = make(os, cp)
    st = "01:00:00" if os == "2003" else "01:00"
    sd = "2024/01/16" if cp == 932 else "01/16/2024"
    assert (
        run(
            node,
            f'schtasks /Create /TN daily /TR "cmd /c \\"C:\\clp\\job.bat\\"" /SC DAILY /ST {st} /RU SYSTEM',
        )[0]
        == 0
    )
    assert (
        run(node, f'schtasks /Create /TN once /TR "C:\\clp\\job.bat" /SC ONCE /ST {st} /SD {sd} /RU SYSTEM')[
            0
        ]
        == 0
    )
    for fmt, parse in (("CSV", sch_parser.parse_query_csv), ("LIST", sch_parser.parse_query_list)):
        _rc, out, _ = run(node, f"schtasks /Query /FO {fmt} /V")
        tasks = {t.name: t for t in parse(out)}
        assert set(tasks) == {"daily", "once"}
        assert tasks["daily"].kind == "daily" and tasks["once"].kind == "once"
        assert tasks["daily"].task_to_run == 'cmd /c "C:\\clp\\job.bat"'
        assert tasks["once"].next_run == datetime(2024, 1, 16, 1, 0)


def test_daily_task_runs_when_the_clock_passes_it() -> None:
    node = make("2008R2")
    assert run(node, 'schtasks /Create /TN d /TR "C:\\clp\\job.bat" /SC DAILY /ST 01:00 /RU SYSTEM')[0] == 0
    assert node.advance(hours=24 * 3) == ["node-a:d", "node-a:d", "node-a:d"]
    assert node.read_text("C:\\clp\\ran.txt") == "ran\r\n" * 3
    _rc, out, _ = run(node, "schtasks /Query /TN d /FO LIST /V")
    task = sch_parser.parse_query_list(out)[0]
    assert task.last_result == 0
    assert task.last_run == datetime(2024, 1, 17, 1, 0)
    assert task.next_run == datetime(2024, 1, 18, 1, 0)


def test_run_now_and_local_time_zone() -> None:
    node = SimulatedWindows(
        "node-a", "2012", tz="Asia/Tokyo", clock=SimClock(datetime(2024, 1, 15, tzinfo=timezone.utc))
    )
    node.write_file("C:\\fail.bat", "@exit /b 4\r\n")
    assert run(node, 'schtasks /Create /TN f /TR "C:\\fail.bat" /SC ONCE /ST 10:00 /RU SYSTEM')[0] == 0
    assert run(node, "schtasks /Run /TN f")[1] == 'SUCCESS: Attempted to run the scheduled task "f".\r\n'
    task = node.scheduler.get("f")
    assert task is not None and task.last_result == 4 and task.last_run == datetime(2024, 1, 15, 9, 0)
    # 10:00 JST is 01:00 UTC
    assert node.advance(minutes=59) == []
    assert node.advance(minutes=2) == ["node-a:f"]


def test_at_jobs_and_schedule_service() -> None:
    node = make("2008R2")
    assert (
        run(node, 'at 03:00 /every:M,T,W,Th,F,S,Su cmd /c "C:\\clp\\job.bat"')[1]
        == "Added a new job with job ID = 1\r\n"
    )
    assert run(node, 'at 05:00 cmd /c "C:\\clp\\job.bat"')[1] == "Added a new job with job ID = 2\r\n"
    jobs = at_parser.parse_at_list(run(node, "at")[1])
    assert [(j.job_id, j.time, j.command) for j in jobs] == [
        (1, "03:00", 'cmd /c "C:\\clp\\job.bat"'),
        (2, "05:00", 'cmd /c "C:\\clp\\job.bat"'),
    ]
    assert {t.name for t in sch_parser.parse_query_csv(run(node, "schtasks /query /fo csv /v")[1])} == {
        "At1",
        "At2",
    }
    assert node.advance(hours=6) == ["node-a:At1", "node-a:At2"]
    assert [j.job_id for j in at_parser.parse_at_list(run(node, "at")[1])] == [1]  # the one-shot job is gone
    assert run(node, "at 1 /delete /yes") == (0, "", "")
    assert run(node, "at 7 /delete /yes") == (1, "", "The AT job ID does not exist.\r\n")
    node.schedule_state = "Stopped"
    assert run(node, "at") == (1, "", "The service has not been started.\r\n")
    assert run(node, "net start Schedule")[0] == 0 and node.schedule_running


def test_at_on_2012_prints_the_deprecation_banner() -> None:
    node = make("2012")
    _rc, out, _ = run(node, 'at 05:00 cmd /c "C:\\clp\\job.bat"')
    assert out == (
        "The AT command has been deprecated. Please use schtasks.exe instead.\r\n\r\n"
        "Added a new job with job ID = 1\r\n"
    )
    assert at_parser.parse_at_created(out) == 1


@pytest.mark.parametrize("os", ["2016", "2019", "2022"])
def test_at_on_2016_and_later_is_refused_by_the_node(os: str) -> None:
    node = make(os)
    for line in ('at 05:00 cmd /c "C:\\clp\\job.bat"', "at"):
        rc, out, err = run(node, line)
        assert rc == 1
        assert out == "The AT command has been deprecated. Please use schtasks.exe instead.\r\n\r\n"
        assert err == "The request is not supported.\r\n"
    assert not node.scheduler.tasks  # nothing was created


def test_at_on_2012r2_still_creates_the_job() -> None:
    node = make("2012R2")
    _rc, out, _ = run(node, 'at 05:00 cmd /c "C:\\clp\\job.bat"')
    assert at_parser.parse_at_created(out) == 1


def test_stopped_schedule_service_runs_nothing() -> None:
    node = make("2003", 932)
    node.schedule_state = "Stopped"
    node.schedule_start_mode = "Manual"
    assert (
        run(node, 'schtasks /Create /TN d /TR "C:\\clp\\job.bat" /SC DAILY /ST 01:00:00 /RU SYSTEM')[0] == 0
    )
    assert node.advance(hours=30) == []
    assert run(node, "sc config Schedule start= auto")[1] == "[SC] ChangeServiceConfig SUCCESS\r\n"
    assert "START_TYPE         : 2   AUTO_START" in run(node, "sc qc Schedule")[1]
    assert run(node, "net start Schedule")[0] == 0
    assert node.advance(hours=24) == ["node-a:d"]


def test_passwords_are_not_kept_in_the_history() -> None:
    node = make("2012")
    line = 'schtasks /Create /TN u /TR "C:\\clp\\job.bat" /SC DAILY /ST 01:00 /RU EXAMPLE\\op'
    line += ' /RP "Top Secret1" /F'
    assert run(node, line)[0] == 0
    assert "Top Secret1" not in repr(node.history) and "/RP ***" in node.history[-1].arguments
    task = node.scheduler.get("u")
    assert task is not None and task.has_password and "Top Secret1" not in repr(task)


def test_schtasks_once_in_the_past_warns_exits_0_and_never_runs() -> None:
    """schtasks-create: /SC ONCE without /SD is today; a /ST already past only warns (FO-2)."""
    node = make()
    node.advance(hours=12)
    line = 'schtasks /Create /TN clp-once /TR "C:\\clp\\job.bat" /SC ONCE /ST 06:00 /RU SYSTEM /F'
    rc, out, _ = run(node, line)
    assert rc == 0 and out.startswith("WARNING: Task may not run because /ST is earlier than current time.")
    node.advance(hours=48)
    assert node.scheduler.get("clp-once").runs == []  # type: ignore[union-attr]


def test_at_runs_at_the_next_occurrence() -> None:
    node = make("2008R2")
    node.advance(hours=12)
    assert run(node, 'at 06:00 cmd /c "C:\\clp\\job.bat"')[0] == 0
    node.advance(hours=24)
    assert node.read_text("C:\\clp\\ran.txt") == "ran\r\n"
    assert [r.when.hour for r in node.history if r.program.startswith("(task)")] == [6]


@pytest.mark.parametrize(("hour", "day"), [(5, 15), (12, 16)])
def test_the_schedule_once_script_registers_the_next_occurrence(hour: int, day: int) -> None:
    """powershell.exe runs clpbackup's schedule-once script (by its marker) as Task Scheduler 2.0
    would register it: one TimeTrigger at the next 06:00, as SYSTEM."""
    from clpbackup.platforms import get_platform

    node = make()
    node.advance(hours=hour)
    cmd = get_platform("2012").schtasks_once_next("clp-once", "06:00", 'cmd /c "C:\\clp\\job.bat"', field="f")
    rc, out, err = run(node, cmd.command_line())
    assert (rc, err) == (0, "") and out.startswith("SUCCESS: clp-once 2024-01-")
    task = node.scheduler.get("clp-once")
    assert task is not None and task.kind == "ONCE" and task.is_system
    assert task.start == datetime(2024, 1, day, 6, 0)
    node.advance(hours=48)
    assert [when for when, _ in task.runs] == [datetime(2024, 1, day, 6, 0)]
    tasks = sch_parser.parse_query_csv(run(node, "schtasks /Query /FO CSV /V")[1])
    assert any(t.name.endswith("clp-once") and t.task_to_run == 'cmd /c "C:\\clp\\job.bat"' for t in tasks)


def test_the_schedule_once_script_fails_on_2003_and_without_the_schedule_service() -> None:
    import base64

    from clpbackup.platforms.base import once_script

    line = "powershell -NoProfile -NonInteractive -EncodedCommand " + base64.b64encode(
        once_script("clp-once", "06:00", "cmd", '/c "C:\\clp\\job.bat"').encode("utf-16-le")
    ).decode("ascii")
    rc, _, err = run(make("2003"), line)
    assert rc == 1 and "80040154" in err  # no Task Scheduler 2.0 COM class on 2003
    node = make()
    run(node, "net stop Schedule")
    rc, _, err = run(node, line)
    assert rc == 1 and "has not been started" in err and node.scheduler.get("clp-once") is None


def test_find_as_documented() -> None:
    """windows-commands/find: matching lines after ---------- FILE; exit 0 found, 1 not, 2 no file."""
    node = make()
    node.write_file("C:\\clp\\list.txt", "one Alpha\r\ntwo beta\r\nthree ALPHA\r\n")
    header = "\r\n---------- C:\\CLP\\LIST.TXT\r\n"
    assert run(node, 'find "Alpha" C:\\clp\\list.txt') == (0, header + "one Alpha\r\n", "")
    assert run(node, 'find /i "alpha" "C:\\clp\\list.txt"')[1].endswith("one Alpha\r\nthree ALPHA\r\n")
    assert run(node, 'find /c /i "alpha" C:\\clp\\list.txt')[1] == "\r\n---------- C:\\CLP\\LIST.TXT: 2\r\n"
    assert run(node, 'find "gamma" C:\\clp\\list.txt')[0] == 1
    assert run(node, 'find "gamma" C:\\clp\\none.txt') == (2, "", "File not found - C:\\CLP\\NONE.TXT\r\n")
    assert not node.not_simulated


def test_a_weekly_task_runs_on_its_day_and_lists_as_weekly() -> None:
    """DRILL-2: schtasks /SC WEEKLY /D <day> (Microsoft Learn, schtasks create: /d MON-SUN or *, MON
    when omitted; /d only with WEEKLY or MONTHLY)."""
    node = make("2012")
    line = 'schtasks /Create /TN w /TR "C:\\clp\\job.bat" /SC WEEKLY /D SUN /ST 05:00 /RU SYSTEM /F'
    assert run(node, line)[0] == 0
    # the simulated clock starts on Monday 2024-01-15: the first run is Sunday the 21st
    assert node.advance(hours=24 * 14) == ["node-a:w", "node-a:w"]
    _rc, out, _ = run(node, "schtasks /Query /TN w /FO LIST /V")
    task = sch_parser.parse_query_list(out)[0]
    assert task.kind == "weekly" and task.days == "SUN"
    assert task.last_run == datetime(2024, 1, 28, 5, 0) and task.next_run == datetime(2024, 2, 4, 5, 0)
    assert run(node, line.replace("/D SUN", "/D SUNDAY"))[0] == 1
    assert run(node, line.replace("WEEKLY", "DAILY"))[0] == 1  # /D is not for DAILY
