"""DRILL-2 offline: the plan's ``drill`` option, its rule, the weekly script and task, and how status
and drift read them."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from clpbackup import alerts, nodestate, render
from clpbackup.errors import PlanError, QuotingError
from clpbackup.nodestate import NodeState
from clpbackup.parsers.schtasks import ScheduledTask, TaskTrigger
from clpbackup.plan import Plan
from clpbackup.record import Record, RecordedTask
from clpbackup.results import ScheduleStatus, StatusResult
from clpbackup.rules import DRILL_SLOT_MINUTES, drill_refusal, weekly_drill_jobs, weekly_drill_starts
from tests.helpers.argv import batch_line_to_command_line, command_line_to_argv

EXAMPLES = Path(__file__).resolve().parents[2] / "clpbackup" / "examples"


def _data(name: str = "ws2012-wsb.yaml") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


def _plan(drill: dict[str, Any] | None, name: str = "ws2012-wsb.yaml", **changes: Any) -> Plan:
    data = _data(name)
    if drill is not None:
        data["drill"] = drill
    data.update(changes)
    return Plan.from_dict(data)


WEEKLY = {"weekly": {"day": "SUN", "at": "08:00"}}


def _drill2(plan: Plan) -> list[Any]:
    return [f for f in plan.findings() if f.rule == "DRILL-2"]


# -- the plan option ------------------------------------------------------------------------------


def test_the_option_loads_with_a_day_in_any_case_and_every_drillable_job_by_default() -> None:
    plan = _plan({"weekly": {"day": "sunday", "at": "08:00"}})
    assert plan.drill is not None and plan.drill.weekly.day == "SUN"
    assert weekly_drill_jobs(plan) == ["local-daily", "shared-daily"]
    assert weekly_drill_starts(plan) == {"local-daily": "08:00", "shared-daily": "08:15"}
    assert DRILL_SLOT_MINUTES == 15
    assert not [f for f in plan.findings() if f.severity == "error"]


@pytest.mark.parametrize(
    ("drill", "field", "words"),
    [
        ({"weekly": {"day": "FUN", "at": "08:00"}}, "drill.weekly.day", "MON, TUE, WED, THU, FRI, SAT, SUN"),
        ({"weekly": {"day": "SUN", "at": "8 am"}}, "drill.weekly.at", "HH:MM"),
        ({"weekly": {"day": "SUN", "at": "24:00"}}, "drill.weekly.at", "HH:MM"),
        ({"weekly": {"day": "SUN"}}, "drill.weekly.at", "required"),
        ({"jobs": ["local-daily"]}, "drill.weekly", "required"),
        ({**WEEKLY, "jobs": ["nightly"]}, "drill.jobs[0]", "no job named 'nightly'; the plan's jobs are"),
        ({**WEEKLY, "jobs": ["local-daily", "local-daily"]}, "drill.jobs", "listed twice"),
        ({**WEEKLY, "jobs": []}, "drill.jobs", "name at least one job"),
        ({**WEEKLY, "when": "weekly"}, "drill.when", "Extra inputs"),
    ],
)
def test_a_bad_option_is_refused_at_load_naming_the_field(
    drill: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(PlanError) as err:
        _plan(drill)
    assert err.value.field == field
    assert words in str(err.value)


def test_an_unquoted_time_in_yaml_is_explained_on_its_line() -> None:
    text = (EXAMPLES / "ws2012-wsb.yaml").read_text(
        encoding="utf-8"
    ) + "drill:\n  weekly: {day: SUN, at: 8:00}\n"
    with pytest.raises(PlanError) as err:
        Plan.from_yaml(text)
    assert err.value.field == "drill.weekly.at" and err.value.line == text.count("\n")
    assert "quote the time" in (err.value.hint or "")


def test_derived_names_of_the_weekly_drill_do_not_collide_with_another_job() -> None:
    data = _data()
    data["jobs"]["local-daily-drill-weekly"] = dict(data["jobs"]["local-daily"], daily_at="12:00")
    with pytest.raises(PlanError, match="OWN-1") as err:
        Plan.from_dict(data)
    assert "weekly drill" in str(err.value)


# -- DRILL-2 -------------------------------------------------------------------------------------------


def test_drill2_refuses_a_2003_plan_saying_ntbackup_has_no_command_line_restore() -> None:
    plan = _plan(WEEKLY, "ws2003-ntbackup.yaml")
    errors = [f for f in _drill2(plan) if f.severity == "error"]
    assert len(errors) == 1 and errors[0].field == "drill"
    assert "no command-line restore" in errors[0].message
    listed = _plan({**WEEKLY, "jobs": ["local-daily"]}, "ws2003-ntbackup.yaml")
    (f,) = [f for f in _drill2(listed) if f.severity == "error"]
    assert f.field == "drill.jobs[0]" and f.job == "local-daily" and "Windows Server 2003" in f.message
    first = listed.nodes[0].name
    assert (
        render.render_plan(listed)[first].schedules
        == render.render_plan(_plan(None, "ws2003-ntbackup.yaml"))[first].schedules
    )  # nothing rendered for it


def test_drill2_refuses_a_listed_job_without_a_canary_and_skips_it_by_default() -> None:
    data = _data()
    data["jobs"]["odd"] = {
        "scope": "local",
        "include": ["C:\\Program Files (x86)\\app"],
        "target": "\\\\nas01\\backup\\{node}-odd",
        "daily_at": "12:00",
        "expected_duration": "30m",
    }
    assert drill_refusal(Plan.from_dict(data), "odd") is not None
    listed = Plan.from_dict({**data, "drill": {**WEEKLY, "jobs": ["odd"]}})
    (f,) = [f for f in _drill2(listed) if f.severity == "error"]
    assert f.field == "drill.jobs[0]" and "no canary" in f.message
    default = Plan.from_dict({**data, "drill": WEEKLY})
    assert weekly_drill_jobs(default) == ["local-daily", "shared-daily"]
    (info,) = [f for f in _drill2(default) if f.severity == "info"]
    assert info.job == "odd" and "not drilled weekly" in info.message


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        ("01:30", "local-daily on node-a (01:00–03:00)"),  # the daily run, both nodes
        ("04:20", "shared-daily on node-b (04:15–05:15)"),  # SCH-2: the standby's later run
        ("05:55", "shared-daily (failover backup) on node-a (06:00–07:00)"),  # its 15 min reach 06:10
        ("06:50", "falls inside the run of shared-daily (failover backup)"),  # 06:50–07:05
    ],
)
def test_drill2_refuses_a_drill_slot_inside_any_backup_window(at: str, inside: str) -> None:
    plan = _plan({"weekly": {"day": "SAT", "at": at}})
    errors = [f for f in _drill2(plan) if f.severity == "error"]
    assert errors and all(f.field == "drill.weekly.at" for f in errors)
    assert any(inside in f.message and "wbadmin runs one operation at a time" in f.message for f in errors)
    with pytest.raises(PlanError, match="DRILL-2"):
        plan.check()


def test_drill2_checks_the_second_jobs_slot_too() -> None:
    # 00:45 is free for local-daily (00:45-01:00) but shared-daily's 01:00 slot is inside the run
    plan = _plan({"weekly": {"day": "SAT", "at": "00:45"}})
    (f,) = [f for f in _drill2(plan) if f.severity == "error"]
    assert f.job == "shared-daily" and "01:00" in f.message and "after the drill before it" in f.message


# -- render ----------------------------------------------------------------------------------------------


def _lines(plan: Plan, node: str, job: str) -> list[str]:
    f = render.render_plan(plan)[node].file("weekly-drill-script", job)
    assert f.path == f"C:\\clpbackup\\{job}-drill-weekly.bat" and f.encoding == f"cp{plan.codepage_for(node)}"
    text = f.content.decode(f.encoding)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return text[:-2].split("\r\n")


def test_the_weekly_script_finds_this_nodes_newest_version_and_recovers_the_canary() -> None:
    plan = _plan(WEEKLY)
    lines = _lines(plan, "node-b", "local-daily")
    # wbadmin's whole answer (its error text too) goes to a file first, with its exit code; the
    # versions are read from that file
    i = lines.index(
        'wbadmin get versions -backupTarget:\\\\nas01\\backup\\node-b -machine:node-b > '
        '"C:\\clpbackup\\logs\\local-daily-drill-versions.txt" 2>&1'
    )
    assert lines[i + 1 : i + 3] == [
        "set WBRC=%ERRORLEVEL%",
        'for /f "delims=" %%L in (\'type "C:\\clpbackup\\logs\\local-daily-drill-versions.txt"\') do '
        'call :version "%%L"',
    ]
    assert render.weekly_drill_versions_path(plan, "local-daily") == (
        "C:\\clpbackup\\logs\\local-daily-drill-versions.txt"
    )
    recovery = next(ln for ln in lines if ln.startswith("wbadmin start recovery"))
    command, _, log = recovery.partition(" >> ")
    # cmd.exe expands %VERSION% (the version the script found); the rest is the platform's command
    command = command.replace("%VERSION%", "01/21/2024-01:00")
    assert command_line_to_argv(batch_line_to_command_line(command)) == [
        "wbadmin",
        "start",
        "recovery",
        "-version:01/21/2024-01:00",
        "-itemtype:File",
        "-items:C:\\data\\clpbackup-canary\\local-daily.txt",
        "-backupTarget:\\\\nas01\\backup\\node-b",
        "-machine:node-b",
        "-recoveryTarget:C:\\clpbackup\\drill",
        "-overwrite:Overwrite",
        "-quiet",
    ]
    assert log == '"C:\\clpbackup\\logs\\local-daily-drill-weekly.log" 2>&1'
    assert lines[lines.index(recovery) + 1] == "set RRC=%ERRORLEVEL%"
    # the subroutine: the last 16 characters of a line with the shape MM/DD/YYYY-HH:MM, kept when
    # their key YYYYMMDDHHMM is greater than the best so far (string comparison: the K prefix)
    assert lines[-10:] == [
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
    assert lines.index("set BEST=") == lines.index("set VERSION=") + 1
    # the token is compared with the record only after its quotes are gone
    i = lines.index('set "GOT=%GOT:"=%"')
    assert lines[i + 2] == (
        'for /f "tokens=1" %%T in (\'type "C:\\clpbackup\\logs\\local-daily-canary.txt"\') do '
        'if "%%T"=="%GOT%" set MATCH=1'
    )
    assert (
        lines.index(
            'for /f "tokens=3" %%T in (\'type "C:\\clpbackup\\drill\\local-daily.txt"\') do set "GOT=%%T"'
        )
        < i
    )
    assert (
        'if exist "C:\\clpbackup\\drill\\local-daily.txt" del "C:\\clpbackup\\drill\\local-daily.txt"'
        in lines
    )
    assert not any("goto not_attached" in ln for ln in lines)  # a local job drills on both nodes


def test_the_verdicts_are_the_json_line_status_reads_and_a_failure_raises_event_104() -> None:
    plan = _plan(WEEKLY)
    lines = _lines(plan, "node-a", "shared-daily")
    verdicts = [ln for ln in lines if ln.startswith("echo {")]
    # pass, no version (wbadmin listed none / wbadmin failed), no canary, token not recorded
    assert len(verdicts) == 5
    messages = []
    for ln in verdicts:
        body, _, path = ln.removeprefix("echo ").rpartition(" > ")
        assert path == '"C:\\clpbackup\\logs\\shared-daily-drill.txt"'
        data = __import__("json").loads(
            body.replace("%DATE% %TIME%", "Sun 01/21/2024  8:15:00.00")
            .replace("%VERSION%", "01/21/2024-03:00")
            .replace("%WBRC%", "-2147024843")
            .replace("%RRC%", "1")
        )
        assert data["by"] == "weekly task" and data["machine"] == "node-a"
        assert data["verdict"] in ("pass", "fail")
        messages.append(data["message"])
    assert messages[1:4] == [
        "wbadmin get versions (exit code 0) listed no version made by node-a at the job's target: see "
        "logs\\shared-daily-drill-versions.txt",
        "wbadmin get versions failed with exit code -2147024843 and gave no version made by node-a (the "
        "target unreachable, access denied, or no backup there): its answer is in "
        "logs\\shared-daily-drill-versions.txt",
        "no canary came back from the newest version: wbadmin start recovery exited 1; see "
        "logs\\shared-daily-drill-weekly.log",
    ]
    # which of the two no-version verdicts: wbadmin's exit code
    i = lines.index(":no_version")
    assert lines[i + 1] == 'if not "%WBRC%" == "0" goto versions_failed'
    assert lines.index(":versions_failed") > i
    rcs = [ln for ln in lines if ln.startswith("set RC=")]
    assert rcs == ["set RC=2", "set RC=2", "set RC=3", "set RC=4"]
    assert render.WEEKLY_DRILL_RC == {"no-version": 2, "no-canary": 3, "not-recorded": 4}
    alert = [ln for ln in lines if "/ID 104" in ln or "-i 104" in ln]
    assert len(alert) == 2 and all(
        "[104]: the weekly restore drill of job shared-daily failed on node-a" in a for a in alert
    )
    assert alerts.kind_of(104) is alerts.DRILL_FAILED
    assert lines.index(":failed") < lines.index(alert[0]) < lines.index("exit /b %RC%")


def test_a_switchover_jobs_script_leaves_the_drill_to_the_node_with_the_partition() -> None:
    lines = _lines(_plan(WEEKLY), "node-b", "shared-daily")
    guard = lines.index('if not exist "E:\\" goto not_attached')
    assert guard < next(i for i, ln in enumerate(lines) if ln.startswith("for /f"))
    i = lines.index(":not_attached")
    assert lines[i + 1].startswith(
        "echo RS-1: E: not attached to node-b at %DATE% %TIME%; the node that has it"
    )
    assert lines[i + 1].endswith('>> "C:\\clpbackup\\logs\\shared-daily-drill-weekly.log"')
    assert lines[i + 2] == "exit /b 0"


def test_the_weekly_task_is_a_schtasks_task_on_at_nodes_too() -> None:
    for name in ("ws2008r2-wsb.yaml", "ws2012-ja.yaml", "ws2019-wsb.yaml"):
        plan = _plan({"weekly": {"day": "WED", "at": "12:00"}}, name)
        for node, art in render.render_plan(plan).items():
            weekly = [s for s in art.schedules if s.kind == "weekly"]
            assert [s.job for s in weekly] == weekly_drill_jobs(plan)
            first = weekly[0]
            assert first.scheduler == "schtasks" and first.days == ("WED",) and first.at == "12:00"
            assert first.name == f"clpbackup-{plan.cluster.name}-{first.job}-drill-weekly"
            assert list(first.argv) == [
                "schtasks",
                "/Create",
                "/TN",
                first.name,
                "/SC",
                "WEEKLY",
                "/D",
                "WED",
                "/ST",
                "12:00",
                "/TR",
                f'cmd /c "{render.weekly_drill_script_path(plan, first.job)}"',
                "/RU",
                "SYSTEM",
                "/F",
            ], node
            assert first.delete_argv == ("schtasks", "/Delete", "/TN", first.name, "/F")


def test_without_the_option_nothing_of_it_is_rendered() -> None:
    for name in ("ws2003-ntbackup.yaml", "ws2012-wsb.yaml"):
        for art in render.render_plan(_plan(None, name)).values():
            assert not [s for s in art.schedules if s.kind == "weekly"]
            assert not [f for f in art.files if f.role == "weekly-drill-script"]


def test_a_value_the_for_f_clause_cannot_carry_is_refused_naming_its_field() -> None:
    data = _data()
    data["scripts_dir"] = "C:\\it's"
    plan = Plan.from_dict({**data, "drill": {**WEEKLY, "jobs": ["local-daily"]}})
    with pytest.raises(QuotingError) as err:
        render.render_plan(plan)
    assert err.value.field == "scripts_dir" and "for /f" in str(err.value)
    assert [f for f in plan.findings() if f.rule == "QUOTE" and f.field == "scripts_dir"]
    # without the weekly drill the same folder is fine
    assert render.render_plan(Plan.from_dict(data))
    # a target with ' is carried: wbadmin get versions runs outside for /f (its answer goes to a file)
    data = _data()
    data["jobs"]["local-daily"]["target"] = "\\\\nas01\\it's\\{node}"
    carried = Plan.from_dict({**data, "drill": {**WEEKLY, "jobs": ["local-daily"]}})
    lines = _lines(carried, "node-a", "local-daily")
    assert any(ln.startswith("wbadmin get versions -backupTarget:\\\\nas01\\it's\\node-a ") for ln in lines)


# -- status, drift ----------------------------------------------------------------------------------------


def _task(
    entry: Any, *, days: str = "SUN", kind: str = "weekly", last_result: int | None = 0
) -> ScheduledTask:
    trigger = TaskTrigger(kind, "Weekly", time(8, 0), None, days=days)  # type: ignore[arg-type]
    return ScheduledTask(
        name=entry.name,
        host="NODE-A",
        next_run=None,
        status="Ready",
        state="ready",
        last_run=datetime(2024, 1, 21, 8, 0),
        last_result=last_result,
        author=None,
        task_to_run=entry.run,
        run_as_user="SYSTEM",
        enabled=True,
        triggers=(trigger,),
    )


def test_status_reads_the_weekly_task_and_notices_a_changed_day() -> None:
    plan = _plan(WEEKLY)
    node = plan.node("node-a")
    art = render.render_plan(plan)["node-a"]
    entry = art.schedule("local-daily", "weekly")
    mine = Record(present=True, tasks=[RecordedTask(entry.name, entry.run, entry.at, "weekly")])
    state = NodeState(tasks=[_task(entry)])
    (s,) = [
        x
        for x in nodestate.schedule_status(plan, node, art, state, True)
        if x.kind == "weekly" and x.job == "local-daily"
    ]
    assert s.state == "matching" and s.verdict.startswith("weekly drill: last run passed")
    state = NodeState(tasks=[_task(entry, days="MON")], record=mine)
    (s,) = [
        x
        for x in nodestate.schedule_status(plan, node, art, state, True)
        if x.kind == "weekly" and x.job == "local-daily"
    ]
    assert s.state == "different" and s.verdict == "runs on MON, expected SUN"
    state = NodeState(tasks=[_task(entry, kind="daily")], record=mine)
    (s,) = [
        x
        for x in nodestate.schedule_status(plan, node, art, state, True)
        if x.kind == "weekly" and x.job == "local-daily"
    ]
    assert s.state == "different" and "is a daily task, expected weekly" in s.verdict
    state = NodeState(tasks=[_task(entry, last_result=4)])
    (s,) = [
        x
        for x in nodestate.schedule_status(plan, node, art, state, True)
        if x.kind == "weekly" and x.job == "local-daily"
    ]
    assert s.verdict.startswith(nodestate.FAILED_DRILL) and "no run recorded" in s.verdict


def test_a_japanese_days_text_is_not_compared() -> None:
    plan = _plan(WEEKLY)
    entry = render.render_plan(plan)["node-a"].schedule("local-daily", "weekly")
    assert nodestate._task_matches(_task(entry, days="日曜日"), entry) is None


def test_drift_names_a_weekly_drill_one_node_lacks() -> None:
    def status(node: str, state: Literal["matching", "missing"]) -> StatusResult:
        res = StatusResult(node)
        res.schedules = [
            ScheduleStatus(
                "clpbackup-prod-db-local-daily", "local-daily", "daily", "matching", "schtasks", "01:00"
            ),
            ScheduleStatus(
                "clpbackup-prod-db-local-daily-drill-weekly",
                "local-daily",
                "weekly",
                state,
                "schtasks",
                "08:00",
            ),
        ]
        return res

    problems = nodestate.drift(
        _plan(WEEKLY), {"node-a": status("node-a", "matching"), "node-b": status("node-b", "missing")}
    )
    assert [p.message for p in problems] == [
        "the weekly drill of job local-daily is scheduled on node-a but not on node-b: run deploy"
    ]


def test_status_shows_the_weekly_tasks_verdict_line_whoever_wrote_it_last() -> None:
    plan = _plan(WEEKLY)
    path = render.drill_result_path(plan, "local-daily")
    weekly = (
        '{"verdict": "fail", "when": "Sun 01/21/2024  8:00:01.50", "version": "", "machine": "node-a", '
        '"by": "weekly task", '
        '"message": "no backup version made by node-a was found at the job\'s target"} \r\n'
    )
    state = NodeState(drill_files={path: weekly})
    assert nodestate.last_drills(plan, state) == {
        "local-daily": "fail at Sun 01/21/2024 8:00:01.50 [weekly task]: no backup version made by node-a "
        "was found at the job's target"
    }
    passed = weekly.replace('"fail"', '"pass"').replace('"version": ""', '"version": "01/21/2024-01:00"')
    state = NodeState(drill_files={path: passed})
    assert nodestate.last_drills(plan, state)["local-daily"] == (
        "pass at Sun 01/21/2024 8:00:01.50 (version 01/21/2024-01:00 by node-a) [weekly task]"
    )


def _listing(*identifiers: str) -> str:
    """A ``wbadmin get versions`` text (en-US, as the real capture) with these versions, in this order."""
    head = "wbadmin 1.0 - Backup command-line tool\r\n(C) Copyright Microsoft Corporation.\r\n"
    return head + "".join(
        f"\r\nBackup time: {v[:10]} {v[11:]}\r\n"
        "Backup location: Network Share labeled \\\\nas01\\backup\\\r\n"
        f"Version identifier: {v}\r\nCan recover: Volume(s), File(s)\r\n"
        for v in identifiers
    )


@pytest.mark.parametrize(
    "order",
    [
        ("01/21/2024-01:00", "01/21/2024-04:00", "01/22/2024-01:00"),  # oldest first
        ("01/22/2024-01:00", "01/21/2024-04:00", "01/21/2024-01:00"),  # newest first
        ("12/31/2023-23:59", "01/22/2024-01:00", "01/21/2024-04:00"),  # a year's turn, no order
    ],
)
def test_the_rendered_subroutine_keeps_the_greatest_identifier_whatever_the_listing_order(
    order: tuple[str, ...],
) -> None:
    """The script's own ``:version`` lines under the simulated cmd.exe, over a hand-made listing: no
    Microsoft source says wbadmin lists oldest first (seen failing with the last-match subroutine on
    the newest-first and unordered listings)."""
    from clpbackup.testing.model import SimulatedWindows

    lines = _lines(_plan(WEEKLY), "node-b", "local-daily")
    sub = lines[lines.index(":version") :]
    node = SimulatedWindows("node-b", "2012")
    node.write_file("C:\\t\\list.txt", _listing(*order))
    body = [
        "@echo off",
        "setlocal",
        "set VERSION=",
        "set BEST=",
        'for /f "delims=" %%L in (C:\\t\\list.txt) do call :version "%%L"',
        "echo [%VERSION%]",
        "exit /b 0",
        *sub,
    ]
    node.write_file("C:\\t\\t.bat", "".join(ln + "\r\n" for ln in body))
    rc, out, err = node.run_command_line('cmd /c "C:\\t\\t.bat"')
    assert (rc, out.decode(node.encoding)) == (0, "[01/22/2024-01:00]\r\n"), err
    assert not node.not_simulated


@pytest.mark.parametrize(
    ("name", "when"),
    [
        ("ws2012-wsb.yaml", "Sun 01/21/2024  8:15:00.00"),  # en-US
        ("ws2012-wsb.yaml", "21.01.2024  8:15:00,00"),  # de-DE: dots, a decimal comma
        ("ws2012-ja.yaml", "2024/01/21  8:15:00.00"),  # ja-JP
        ("ws2012-ja.yaml", "2024/01/21 \u65e5  8:15:00.00"),  # ja-JP, a short date with the day's kanji
        ("ws2016-ja.yaml", "\u4ee4\u548c06/01/21  8:15:00.00"),  # ja-JP, the Japanese calendar's era
    ],
)
def test_every_verdict_the_batch_writes_is_json_status_reads_in_the_nodes_code_page(
    name: str, when: str
) -> None:
    """The verdict lines as cmd.exe writes them (``%DATE% %TIME%`` of the node's locale, the exit
    codes, a ``\\`` in a message, bytes in the node's code page) decode as status decodes them
    (nodestate: the node's code page) and parse: none is shown as unreadable."""
    from clpbackup.parsers.common import decode

    plan = _plan(WEEKLY, name)
    node = plan.nodes[0]
    cp = plan.codepage_for(node)
    job = next(j for j in weekly_drill_jobs(plan) if plan.jobs[j].scope == "local")
    verdicts = [ln for ln in _lines(plan, node.name, job) if ln.startswith("echo {")]
    assert len(verdicts) == 5
    path = render.drill_result_path(plan, job)
    for line in verdicts:
        body, _, target = line.removeprefix("echo ").rpartition(" > ")
        assert target == f'"{path}"'
        written = (
            body.replace("%DATE% %TIME%", when)
            .replace("%VERSION%", "01/21/2024-03:00")
            .replace("%WBRC%", "-2147024843")
            .replace("%RRC%", "1")
        ) + " \r\n"  # echo writes what precedes the redirection, its blank included
        state = NodeState(drill_files={path: decode(written.encode(f"cp{cp}"), cp)})
        shown = nodestate.last_drills(plan, state)[job]
        assert not shown.startswith("unreadable"), (line, shown)
        assert f" at {' '.join(when.split())}" in shown
        if "logs" in body:
            assert f"logs\\{job}-drill-" in shown, shown
