"""render: per-node batch files and schedules of small plans for each OS family and a ja-JP node."""

from __future__ import annotations

import re
from typing import Any

import pytest

from clpbackup import render
from clpbackup.artifacts import ArtifactFile, NodeArtifacts
from clpbackup.errors import PlanError, QuotingError, UnsupportedError
from clpbackup.plan import Plan, parse_hhmm
from clpbackup.platforms import get_platform
from clpbackup.render import (
    GENERATED,
    daily_start,
    failover_run,
    once_schedule,
    render_plan,
)
from tests.helpers.argv import batch_line_to_command_line, command_line_to_argv, split_redirection
from tests.helpers.plans import unvalidated
from tests.helpers.treesitter import batch_errors

# -- small plans ---------------------------------------------------------------------------------------


def base(os: str, **kw: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "cluster": {"name": "prod", "failover_group": "failover1", "switchover_volumes": ["E:"]},
        "nodes": [
            {"name": "node-a", "host": "192.0.2.11", "os": os, "home": True},
            {"name": "node-b", "host": "192.0.2.12", "os": os},
        ],
        "scripts_dir": "C:\\clpbackup",
    }
    plan.update(kw)
    return plan


def plan_2003(**fb: Any) -> Plan:
    """NTBackup: both jobs on the same named tape, so the failover run appends (NT-3)."""
    return Plan.from_dict(
        base(
            "2003",
            jobs={
                "local": {
                    "scope": "local",
                    "include": ["C:\\data\\", "D:"],
                    "exclude": ["C:\\data\\tmp\\"],
                    "daily_at": "22:00",
                    "expected_duration": "2h",
                    "ntbackup": {
                        "tape": "Daily Tape",
                        "library": "DDS Library",
                        "refresh_wait": 45,
                        "type": "incremental",
                        "append": True,
                    },
                },
                "shared": {
                    "scope": "switchover",
                    "include": ["E:"],
                    "daily_at": "01:00",
                    "expected_duration": "1h",
                    "ntbackup": {"tape": "Daily Tape", "library": "DDS Library", "type": "differential"},
                },
            },
            failover_backup={"job": "shared", "at": "04:00", **fb},
        )
    )


def plan_2008r2() -> Plan:
    return Plan.from_dict(
        base(
            "2008R2",
            jobs={
                "local": {
                    "scope": "local",
                    "include": ["C:\\data"],
                    "target": "\\\\nas01\\bk\\{node}",
                    "daily_at": "00:30",
                    "expected_duration": "90m",
                },
                "shared": {
                    "scope": "switchover",
                    "include": ["E:"],
                    "target": "\\\\nas01\\bk\\{node}-shared",
                    "daily_at": "02:00",
                    "expected_duration": "1h",
                },
            },
            failover_backup={"job": "shared", "at": "05:00"},
        )
    )


def plan_2012(**kw: Any) -> Plan:
    return Plan.from_dict(
        base(
            "2012",
            jobs={
                "local": {
                    "scope": "local",
                    "include": ["C:\\data", "D:\\app data"],
                    "exclude": ["C:\\data\\tmp"],
                    "target": "\\\\nas01\\bk\\{node}",
                    "daily_at": "01:00",
                    "expected_duration": "2h",
                },
                "shared": {
                    "scope": "switchover",
                    "include": ["E:"],
                    "target": "\\\\nas01\\bk\\{node}-shared",
                    "daily_at": "23:00",
                    "expected_duration": "1h30m",
                    "vss": "full",
                },
            },
            failover_backup={"job": "shared", "at": "now"},
            **kw,
        )
    )


def plan_ja(codepage: int = 932) -> Plan:
    return Plan.from_dict(
        base(
            "2012",
            connection={"codepage": codepage},
            scripts_dir="C:\\バックアップ",
            jobs={
                "local": {
                    "scope": "local",
                    "include": ["C:\\業務データ"],
                    "target": "\\\\nas01\\バックアップ\\{node}",
                    "daily_at": "01:00",
                },
                "shared": {
                    "scope": "switchover",
                    "include": ["E:"],
                    "target": "\\\\nas01\\バックアップ\\{node}-切替",
                    "daily_at": "02:30",
                },
            },
            failover_backup={"job": "shared", "at": "05:30"},
        )
    )


ALL = {"2003": plan_2003, "2008R2": plan_2008r2, "2012": plan_2012, "ja": plan_ja}


def batch_files(art: NodeArtifacts) -> list[ArtifactFile]:
    return [f for f in art.files if f.path.endswith(".bat")]


def lines(f: ArtifactFile) -> list[str]:
    text = f.text()
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), "CRLF line ends only"
    return text.split("\r\n")[:-1]


# -- the batch-file subset of docs/design.md ------------------------------------------------------------

_PATH = r'"[^"%!&|<>^()]+"'
SUBSET = [
    re.compile(p)
    for p in (
        r"@echo off",
        r"rem( .*)?",
        r"setlocal|endlocal",
        rf'if not exist "[^"]+\\" mkdir {_PATH}',
        r"ping -n \d+ 127\.0\.0\.1 > nul",
        r"set RC=%ERRORLEVEL%",
        r'if not "%RC%" == "0" goto \w+',
        rf'if "%CLP_EVENT%" == "FAILOVER" start "" cmd /c {_PATH}',
        rf"call {_PATH}",
        r":\w+",
        r"goto \w+",
        r"exit /b %RC%",
        r'if not exist "[A-Z]:\\" goto not_attached',  # JOB-3 guard of switchover jobs
        r'echo JOB-3: [A-Z:, ]+ not attached to this node; the job runs here after a failover > "[^"]+"',
        r"exit /b 303",
        # NT-2: ntbackup is a windowed program; the job's log says where its real report is
        r'echo ntbackup writes no console output; its report is backupNN\.log in [^"<>|&]+ > "[^"]+"',
        r"start /wait (rsm|ntbackup|wbadmin) .+",
        r"(wbadmin|ntbackup|schtasks|at) .+",  # a Command's batch_line, optionally redirected
        r"powershell -NoProfile -NonInteractive -EncodedCommand [A-Za-z0-9+/]+=*",  # FO-2 one-shot
        rf"powershell -NoProfile -NonInteractive -EncodedCommand [A-Za-z0-9+/]+=* > {_PATH} 2>&1",
        # ALERT-1: a failure raised in CLUSTERPRO's alert log (where clplogcmd is) and the event log
        r'if "%RC%" == "0" exit /b 0',
        r'for %%P in \(clplogcmd\.exe\) do if not "%%~\$PATH:P" == "" clplogcmd -m "clpbackup ALERT-1 '
        rf'\[10[1-3]\]: [^"%]+ %RC%; log [^"%]+" -i 10[1-3] -l ERR >> {_PATH} 2>&1',
        r'eventcreate /T ERROR /ID 10[1-3] /L APPLICATION /SO clpbackup /D "clpbackup ALERT-1 '
        rf'\[10[1-3]\]: [^"%]+ %RC%; log [^"%]+" >> {_PATH} 2>&1',
        # FO-2 with AT: at most one pending one-shot (at's listing searched for its mark)
        rf"at > {_PATH} 2>&1",
        rf'find /i "[A-Za-z0-9._-]+" {_PATH} > nul',
        rf"echo FO-2: [A-Za-z0-9._-]+ is already pending; no second one-shot > {_PATH}",
        r"exit /b 0",
        # DRILL-1: the restore drill's canary, written just before the tool runs
        r"set CANARY=%RANDOM%%RANDOM%%RANDOM%",
        rf'if exist "[^"]+\\" if not exist "[^"]+\\clpbackup-canary\\" mkdir {_PATH}',
        rf"echo clpbackup-canary [A-Za-z0-9_-]+ %CANARY% %DATE% %TIME% > {_PATH}",
        rf"echo %CANARY% %DATE% %TIME% >> {_PATH}",
        # DRILL-1: the drill script the drill writes, runs as SYSTEM and deletes
        rf"if exist {_PATH} del {_PATH}",
        rf"if exist {_PATH} type {_PATH} >> {_PATH}",
    )
]


def in_subset(line: str) -> bool:
    return any(p.fullmatch(line) for p in SUBSET)


@pytest.mark.parametrize("name", list(ALL))
def test_every_batch_file_parses_and_uses_only_the_subset(name: str) -> None:
    for art in ALL[name]().render().values():
        for f in batch_files(art):
            text = f.text()
            assert batch_errors(text) == [], f"{art.node}:{f.path}"
            for line in lines(f):
                assert in_subset(line), f"{f.path}: {line!r} is outside the batch-file subset"


@pytest.mark.parametrize("name", list(ALL))
def test_header_says_generated_and_names_rules(name: str) -> None:
    for art in ALL[name]().render().values():
        for f in batch_files(art):
            head = [line for line in lines(f) if line.startswith("rem ")][:2]
            assert any(GENERATED in line and "Rules: " in line for line in head), f.path
            assert re.search(r"Rules: ([A-Z]+-\d)(, [A-Z]+-\d)*\.", "\n".join(head))


@pytest.mark.parametrize("name", list(ALL))
def test_rendering_is_deterministic(name: str) -> None:
    first = {n: [(f.path, f.content) for f in a.files] for n, a in ALL[name]().render().items()}
    again = {n: [(f.path, f.content) for f in a.files] for n, a in ALL[name]().render().items()}
    assert first == again


@pytest.mark.parametrize("name", list(ALL))
def test_tool_lines_round_trip_to_the_platform_commands(name: str) -> None:
    plan = ALL[name]()
    for node_name, art in plan.render().items():
        node = plan.node(node_name)
        platform = get_platform(node.os)
        for job_name, job in plan.jobs.items():
            script = art.file("backup-script", job_name)
            assert script.path == f"{plan.scripts_dir}\\{job_name}.bat"
            tool = [line for line in lines(script) if line.startswith(("wbadmin start ", "ntbackup "))]
            assert len(tool) == 1
            red = split_redirection(tool[0])
            assert red.target == f"{plan.scripts_dir}\\logs\\{job_name}.log" and red.stderr_to_stdout
            argv = command_line_to_argv(batch_line_to_command_line(red.command))
            selection = f"{plan.scripts_dir}\\{job_name}.bks" if node.os == "2003" else None
            expected = platform.backup_commands(job_name, job, node=node_name, selection=selection)[-1]
            assert argv == list(expected.argv)
            record = render.versions_record(plan, node, job_name)
            for line in lines(script):
                if line.startswith("wbadmin get "):  # the second hop: versions recorded as SYSTEM
                    red = split_redirection(line)
                    assert record is not None and red.target == render.versions_path(plan, job_name)
                    argv = command_line_to_argv(batch_line_to_command_line(red.command))
                    assert argv == list(record.argv)
        for entry in art.schedules:
            assert command_line_to_argv(entry.command_line) == list(entry.argv)
            assert entry.run == f'cmd /c "{plan.scripts_dir}\\{entry.job}.bat"'


# -- 2003: NTBackup ------------------------------------------------------------------------------------


def test_2003_rsm_refresh_precedes_ntbackup_with_a_wait_nt1() -> None:
    art = plan_2003().render()["node-a"]
    body = lines(art.file("backup-script", "local"))
    i_rsm = body.index('start /wait rsm refresh /LF"DDS Library"')
    i_ping = body.index("ping -n 46 127.0.0.1 > nul")
    i_nt = next(i for i, line in enumerate(body) if line.startswith("ntbackup backup "))
    assert i_rsm < i_ping < i_nt
    assert body[i_nt + 1] == "set RC=%ERRORLEVEL%" and body[-1] == "exit /b %RC%"
    nt_line = body[i_nt]
    assert nt_line.startswith('ntbackup backup "@C:\\clpbackup\\local.bks" /J "local" /T "Daily Tape" /A ')
    for switch in ("/V:no", "/R:no", "/L:f", "/M incremental", "/RS:no", "/HC:on"):
        assert switch in nt_line  # NT-2: every GUI-defaulted switch is passed


def test_2003_failover_run_is_full_and_appends_to_the_shared_tape_nt3() -> None:
    plan = plan_2003()
    art = plan.render()["node-b"]
    run = failover_run(plan, "node-b")
    assert run is not None and run.own_script and run.append
    assert run.batch == "C:\\clpbackup\\shared-failover.bat"
    fo = next(f for f in art.files if f.path == run.batch)
    assert fo.role == "backup-script" and fo.job == "shared"
    nt_line = next(line for line in lines(fo) if line.startswith("ntbackup "))
    assert '/T "Daily Tape" /A' in nt_line and "/M normal" in nt_line
    assert "NT-3" in lines(fo)[1]
    daily = next(line for line in lines(art.file("backup-script", "shared")) if line.startswith("ntbackup "))
    assert "/A" not in daily.split() and "/M differential" in daily
    # failover.bat schedules that batch file with AT (2003 default), marked with the one-shot's name,
    # unless at's listing already shows that mark (FO-2: one pending one-shot at most)
    fscript = lines(art.file("failover-script"))
    mark = "clpbackup-prod-shared-once"
    at_line = f'at 04:00 cmd /c "C:\\clpbackup\\shared-failover.bat" {mark}'
    at_line += ' > "C:\\clpbackup\\logs\\failover.log" 2>&1'  # ALERT-1: the log its alert names
    assert at_line in fscript
    find = f'find /i "{mark}" "C:\\clpbackup\\logs\\at-list.txt" > nul'
    assert fscript.index(find) < fscript.index(at_line)
    entry = once_schedule(plan, "node-b", "shared", "04:00", batch=run.batch)
    assert entry.run == f'cmd /c "C:\\clpbackup\\shared-failover.bat" {mark}'
    assert entry.argv[-1] == mark and at_line.startswith(entry.command_line + " > ")


def test_2003_failover_append_false_does_not_append() -> None:
    run = failover_run(plan_2003(append=False), "node-a")
    assert run is not None and not run.append
    assert all("/A" not in c.argv for c in run.commands)


def test_2003_shared_media_pool_cannot_append() -> None:
    data = base(
        "2003",
        jobs={
            "local": {
                "scope": "local",
                "include": ["C:\\d"],
                "daily_at": "22:00",
                "ntbackup": {"media_pool": "4mm DDS"},
            },
            "shared": {
                "scope": "switchover",
                "include": ["E:"],
                "daily_at": "01:00",
                "ntbackup": {"media_pool": "4mm DDS"},
            },
        },
        failover_backup={"job": "shared", "at": "now"},
    )
    with pytest.raises(UnsupportedError, match="NT-3"):
        render_plan(Plan.from_dict(data))


def test_2003_bks_is_utf16le_without_bom_crlf_and_exclusions() -> None:
    # NTBackup writes its .bks as UTF-16 LE without a byte-order mark; FF FE would spoil line 1
    art = plan_2003().render()["node-a"]
    bks = art.file("selection", "local")
    assert bks.path == "C:\\clpbackup\\local.bks" and bks.encoding == "utf-16-le"
    assert bks.content[:2] != b"\xff\xfe"
    text = bks.content.decode("utf-16-le")
    assert text == "C:\\data\\\r\nD:\\\r\nC:\\data\\tmp\\ /exclude\r\n"
    assert bks.text() == text


def test_bks_lines_drive_folder_file_systemstate() -> None:
    from clpbackup.render import bks_line

    assert bks_line("E:") == "E:\\" and bks_line("E:\\") == "E:\\"
    assert bks_line("C:\\data\\") == "C:\\data\\"  # a folder, as the plan says
    assert bks_line("C:\\db\\x.mdf") == "C:\\db\\x.mdf"  # a file line: no backslash added or guessed
    assert bks_line("systemstate") == "SystemState"


def test_2003_standby_runs_switchover_job_later_sch2() -> None:
    arts = plan_2003().render()
    assert arts["node-a"].schedule("shared").at == "01:00"
    assert arts["node-b"].schedule("shared").at == "02:15"  # 01:00 + 1h + 15 min
    assert arts["node-b"].schedule("local").at == "22:00"  # local jobs: same time (SCH-1)
    assert arts["node-a"].schedule("local").scheduler == "at"
    assert arts["node-a"].schedule("local").days == ("M", "T", "W", "Th", "F", "S", "Su")


def test_2003_with_schtasks_uses_seconds() -> None:
    data = plan_2003().model_dump(mode="python", exclude_none=True)
    data["scheduler"] = "schtasks"
    # FO-2: Task Scheduler 1.0 cannot be given the next date of a one-shot without the node's
    # short-date format (/ST alone is today, never run once past): refused, AT or "now" offered
    with pytest.raises(UnsupportedError, match=r"FO-2.*scheduler: at"):
        render_plan(Plan.from_dict(data))
    data["failover_backup"]["at"] = "now"
    art = render_plan(Plan.from_dict(data))["node-a"]
    assert "/ST 01:00:00" in art.schedule("shared").command_line
    fscript = "\r\n".join(lines(art.file("failover-script")))
    assert "call " in fscript and "schtasks" not in fscript


# -- 2008 R2: WSB + AT ---------------------------------------------------------------------------------


def test_2008r2_at_schedules_and_failover() -> None:
    arts = plan_2008r2().render()
    a, b = arts["node-a"], arts["node-b"]
    assert a.scheduler == b.scheduler == "at"
    assert (
        a.schedule("local").command_line
        == 'at 00:30 /every:M,T,W,Th,F,S,Su cmd /c "C:\\clpbackup\\local.bat"'
    )
    assert b.schedule("shared").at == "03:15"
    assert a.schedule("local").delete_argv == ()  # deleted by ID, found on the node
    fo = lines(a.file("failover-script"))
    assert (
        'at 05:00 cmd /c "C:\\clpbackup\\shared.bat" clpbackup-prod-shared-once'
        ' > "C:\\clpbackup\\logs\\failover.log" 2>&1' in fo
    )
    assert not any(f.path.endswith("-failover.bat") for f in a.files)  # WSB: same command


def test_wsb3_target_differs_per_node() -> None:
    arts = plan_2008r2().render()
    line_a = next(x for x in lines(arts["node-a"].file("backup-script", "shared")) if x.startswith("wbadmin"))
    line_b = next(x for x in lines(arts["node-b"].file("backup-script", "shared")) if x.startswith("wbadmin"))
    assert "-backupTarget:\\\\nas01\\bk\\node-a-shared" in line_a
    assert "-backupTarget:\\\\nas01\\bk\\node-b-shared" in line_b


# -- 2012: WSB + schtasks ------------------------------------------------------------------------------


def test_2012_non_home_switchover_job_starts_after_the_home_window_sch2() -> None:
    plan = plan_2012()
    arts = plan.render()
    home, other = arts["node-a"].schedule("shared"), arts["node-b"].schedule("shared")
    job = plan.jobs["shared"]
    end_of_home = parse_hhmm(home.at) + job.duration_minutes
    start_other = parse_hhmm(other.at)
    assert (start_other - end_of_home) % (24 * 60) == 15  # 23:00 + 1h30 + 15 min, past midnight
    assert other.at == "00:45"
    assert daily_start(plan, plan.node("node-b"), "shared") == "00:45"
    assert other.command_line == (
        "schtasks /Create /TN clpbackup-prod-shared /SC DAILY /ST 00:45 "
        '/TR "cmd /c \\"C:\\clpbackup\\shared.bat\\"" /RU SYSTEM /F'
    )
    assert other.delete_argv == ("schtasks", "/Delete", "/TN", "clpbackup-prod-shared", "/F")
    assert other.run == 'cmd /c "C:\\clpbackup\\shared.bat"'


def test_2012_pinned_standby_at_wins() -> None:
    data = plan_2012().model_dump(mode="python", exclude_none=True)
    data["jobs"]["shared"]["standby_at"] = "03:00"
    assert render_plan(Plan.from_dict(data))["node-b"].schedule("shared").at == "03:00"


def test_2012_failover_now_calls_the_job_and_start_fragment_fo1() -> None:
    art = plan_2012().render()["node-a"]
    fo = lines(art.file("failover-script"))
    assert art.file("failover-script").path == "C:\\clpbackup\\failover.bat"
    assert 'call "C:\\clpbackup\\shared.bat"' in fo
    assert fo[-2:] == ["set RC=%ERRORLEVEL%", "exit /b %RC%"]
    frag = art.file("start-fragment")
    assert frag.path == "C:\\clpbackup\\start-fragment.bat"
    fl = lines(frag)
    assert fl[0] == "rem >>> clpbackup" and fl[-1] == "rem <<< clpbackup"
    assert 'if "%CLP_EVENT%" == "FAILOVER" start "" cmd /c "C:\\clpbackup\\failover.bat"' in fl
    assert batch_errors(frag.text()) == []


def test_2012_failover_at_a_time_registers_the_next_occurrence_as_system() -> None:
    """FO-2: not schtasks /SC ONCE /ST (today only: a failover after that time would never back up)
    but the schedule-once script, which registers the next occurrence as SYSTEM (SEC-1)."""
    import base64

    data = plan_2012().model_dump(mode="python", exclude_none=True)
    data["failover_backup"]["at"] = "05:00"
    plan = Plan.from_dict(data)
    art = plan.render()["node-b"]
    body = lines(art.file("failover-script"))
    entry = once_schedule(plan, "node-b", "shared", "05:00")
    line = next(x for x in body if x.startswith("powershell "))
    log = ' > "C:\\clpbackup\\logs\\failover.log" 2>&1'  # ALERT-1: the log its alert names
    assert line.endswith(log)
    assert command_line_to_argv(batch_line_to_command_line(line.removesuffix(log))) == list(entry.argv)
    assert entry.argv[:4] == ("powershell", "-NoProfile", "-NonInteractive", "-EncodedCommand")
    assert (entry.name, entry.kind, entry.at, entry.scheduler) == (
        "clpbackup-prod-shared-once", "once", "05:00", "schtasks"
    )
    script = base64.b64decode(entry.argv[4]).decode("utf-16-le")
    assert "$name = 'clpbackup-prod-shared-once'" in script and "'SYSTEM'" in script
    assert "/RP" not in script and "password" not in script.lower()  # SEC-1
    assert not any("today" in n for n in art.notes)


def test_2012_with_at_when_the_plan_asks() -> None:
    art = plan_2012(scheduler="at").render()["node-a"]
    assert art.scheduler == "at" and art.schedule("local").argv[0] == "at"


def test_vss_full_reaches_the_batch_file() -> None:
    art = plan_2012().render()["node-a"]
    assert any("-vssFull -quiet" in line for line in lines(art.file("backup-script", "shared")))


# -- ja-JP, code pages ---------------------------------------------------------------------------------


def test_ja_jp_batch_files_are_cp932_with_japanese_paths() -> None:
    arts = plan_ja().render()
    art = arts["node-a"]
    assert art.codepage == 932
    script = art.file("backup-script", "local")
    assert script.encoding == "cp932" and script.path == "C:\\バックアップ\\local.bat"
    raw = script.content
    assert "C:\\業務データ".encode("cp932") in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert batch_errors(script.text()) == []
    entry = art.schedule("local")
    assert entry.run == 'cmd /c "C:\\バックアップ\\local.bat"'
    assert "-backupTarget:\\\\nas01\\バックアップ\\node-a " in script.text()
    shared_b = arts["node-b"].file("backup-script", "shared").text()
    assert "-backupTarget:\\\\nas01\\バックアップ\\node-b-切替" in shared_b


def test_the_same_plan_in_cp437_names_the_field() -> None:
    with pytest.raises(QuotingError) as info:
        render_plan(plan_ja(437))
    assert info.value.field in ("scripts_dir", "jobs.local.include[0]", "jobs.local.target")
    assert "437" in str(info.value)
    data = plan_ja(437).model_dump(mode="python", exclude_none=True)
    data["scripts_dir"] = "C:\\clpbackup"
    with pytest.raises(QuotingError) as info:
        render_plan(Plan.from_dict(data))
    assert info.value.field == "jobs.local.include[0]"
    assert "'業'" in str(info.value)


# -- refusals and selection ----------------------------------------------------------------------------


def test_scripts_dir_that_cmd_would_misread_is_refused() -> None:
    data = plan_2012().model_dump(mode="python", exclude_none=True)
    data["scripts_dir"] = "C:\\Program Files (x86)\\clpbackup"
    with pytest.raises(QuotingError) as info:
        render_plan(Plan.from_dict(data))
    assert info.value.field == "scripts_dir"


def test_too_long_run_command_names_scripts_dir() -> None:
    data = plan_2012().model_dump(mode="python", exclude_none=True)
    data["scripts_dir"] = "C:\\" + "\\".join(["d" * 48] * 5)  # 247: the longest folder MAX_PATH allows
    with pytest.raises(QuotingError, match="261") as info:
        render_plan(Plan.from_dict(data))
    assert info.value.field == "scripts_dir"


def test_wsb1_job_is_refused_by_render_too() -> None:
    data = plan_2012().model_dump(mode="python", exclude_none=True)
    data["jobs"]["local"]["system_state"] = True
    with pytest.raises(UnsupportedError, match="WSB-1"):
        render_plan(Plan.from_dict(data))


def test_unbalanced_quote_in_a_value_is_refused_with_its_field() -> None:
    """Defence in depth: the plan refuses a " in a path when it loads (no Windows name holds one);
    given one past validation, render still refuses to put it into a batch line (QUOTE)."""
    data = plan_2012().model_dump(mode="python", exclude_none=True)
    data["jobs"]["local"]["exclude"] = ['C:\\data\\a"b']
    with pytest.raises(PlanError, match=r"jobs\.local\.exclude\[0\]"):
        Plan.from_dict(data)
    with pytest.raises(QuotingError) as info:
        render_plan(unvalidated(plan_2012(), "local", exclude=['C:\\data\\a"b']))
    assert info.value.field is not None and info.value.field.startswith("jobs.local")


def test_render_one_node_and_unknown_node() -> None:
    plan = plan_2012()
    only = render_plan(plan, node="node-b")
    assert list(only) == ["node-b"] and only["node-b"].os == "2012"
    assert plan.render(node="node-b")["node-b"].files == only["node-b"].files
    with pytest.raises(PlanError):
        render_plan(plan, node="node-c")


def test_no_failover_backup_no_failover_files() -> None:
    data = plan_2012().model_dump(mode="python", exclude_none=True)
    del data["failover_backup"]
    art = render_plan(Plan.from_dict(data))["node-a"]
    assert {f.role for f in art.files} == {"backup-script"}
    assert len(art.schedules) == 2


def test_job_without_daily_at_has_no_schedule() -> None:
    data = plan_2012().model_dump(mode="python", exclude_none=True)
    del data["jobs"]["local"]["daily_at"]
    art = render_plan(Plan.from_dict(data))["node-b"]
    assert [s.job for s in art.schedules] == ["shared"]
    assert art.file("backup-script", "local")


def test_example_plans_render_and_parse() -> None:
    from pathlib import Path

    import clpbackup
    from tests.reliability.test_fuzz_plans import check_artifacts

    examples = sorted((Path(clpbackup.__file__).parent / "examples").glob("*.yaml"))
    assert examples
    weekly = 0
    for path in examples:
        plan = Plan.from_file(path)
        arts = plan.render()
        for art in arts.values():
            for f in batch_files(art):
                assert batch_errors(f.text()) == [], f"{path.name}: {f.path}"
                if f.role == "weekly-drill-script":
                    # DRILL-2's script (for /f, call :label) has its own subset: check_artifacts below
                    weekly += 1
                    continue
                assert all(in_subset(line) for line in lines(f)), f"{path.name}: {f.path}"
        # every file: its tool lines give back the plan's argv, paths and ALERT-1 lines are safe
        check_artifacts(plan, arts)
    assert weekly, "an example carries the weekly drill (DRILL-2): its scripts are checked here"


def test_switchover_script_exits_303_without_the_partition_job3() -> None:
    """JOB-3: the switchover script checks its volumes first and exits 303 instead of running the
    tool, so status tells "not attached when it ran" from a real failure by the exit code alone."""
    art = plan_2012().render()["node-b"]
    text = lines(art.file("backup-script", "shared"))
    guard = text.index('if not exist "E:\\" goto not_attached')
    tool = next(i for i, line in enumerate(text) if line.startswith("wbadmin"))
    assert guard < tool
    # the JOB-3 branch records the share's versions too (second hop), then exits 303
    assert text[text.index(":not_attached") + 2].startswith("wbadmin get versions -backupTarget:\\\\")
    assert text[text.index(":not_attached") + 3] == "exit /b 303"
    local = lines(art.file("backup-script", "local"))
    assert not any("not_attached" in line for line in local)


def test_a_share_target_job_records_its_versions_after_the_backup_second_hop() -> None:
    """The second hop: a WinRM session cannot read a share, so the job's own run (SYSTEM) records
    ``wbadmin get versions`` of its share in logs\\<job>-versions.txt, keeping the backup's exit code;
    a volume target needs no record (the session reads a local volume)."""
    plan = plan_2012()
    art = plan.render()["node-a"]
    body = lines(art.file("backup-script", "local"))
    i_backup = next(i for i, line in enumerate(body) if line.startswith("wbadmin start backup "))
    assert body[i_backup + 1] == "set RC=%ERRORLEVEL%"
    record = next(line for line in body if line.startswith("wbadmin get versions "))
    # then ALERT-1's branch, which ends with the tool's own exit code
    assert body.index(record) > i_backup + 1 and body[body.index(record) + 1] == 'if "%RC%" == "0" exit /b 0'
    assert body[-1] == "exit /b %RC%"
    assert record.endswith(f'> "{plan.scripts_dir}\\logs\\local-versions.txt" 2>&1')
    assert "-machine:node-a" in record and "-backupTarget:\\\\" in record
    volume = plan.model_copy(
        update={"jobs": {k: v.model_copy(update={"target": "G:"}) for k, v in plan.jobs.items()}}
    )
    assert render.versions_record(volume, volume.node("node-a"), "local") is None
    volume_script = lines(volume.render()["node-a"].file("backup-script", "local"))
    assert not any(line.startswith("wbadmin get ") for line in volume_script)


# -- DRILL-1: the restore drill's canary -----------------------------------------------------------------


@pytest.mark.parametrize("name", list(ALL))
def test_the_canary_is_written_just_before_the_tool_and_never_on_the_not_attached_path(name: str) -> None:
    plan = ALL[name]()
    for art in plan.render().values():
        for job in plan.jobs:
            text = lines(art.file("backup-script", job))
            where = render.canary_path(plan, job)
            assert where is not None, job
            canary = [i for i, line in enumerate(text) if line.startswith("echo clpbackup-canary ")]
            starts = ("wbadmin start", "ntbackup", "start /wait")
            tool = [i for i, line in enumerate(text) if line.startswith(starts)]
            assert len(canary) == 1 and canary[0] < tool[0], text
            assert text[canary[0]].endswith(f'> "{where[0]}"')
            record = f'>> "{render.canary_record_path(plan, job)}"'
            assert text[canary[0] + 1].startswith("echo %CANARY% ") and text[canary[0] + 1].endswith(record)
            if "not_attached" in "\n".join(text):  # JOB-3: the canary comes after the guard
                guard = max(i for i, line in enumerate(text) if line.endswith("goto not_attached"))
                label = text.index(":not_attached")
                assert guard < canary[0] < label
                assert not any("CANARY" in line for line in text[label:])


def test_canary_path_takes_a_backed_up_volume_first_and_never_an_excluded_or_file_item() -> None:
    plan = plan_2012()
    for job, spec in plan.jobs.items():
        where = render.canary_path(plan, job)
        assert where is not None
        path, fld = where
        i = int(fld.rsplit("[", 1)[1].rstrip("]"))
        item = spec.include[i]
        assert path.lower().startswith(item.rstrip("\\").lower() + "\\clpbackup-canary\\")
        if spec.scope == "switchover":
            assert path[:2] in plan.cluster.switchover_volumes

    def one(**job: Any) -> Plan:
        base = {"scope": "local", "target": "\\\\nas\\b\\{node}", "daily_at": "01:00"}
        return Plan.from_dict({
            "cluster": {"name": "c", "failover_group": "g", "switchover_volumes": ["E:"]},
            "nodes": [
                {"name": "a", "host": "a", "os": "2012", "home": True},
                {"name": "b", "host": "b", "os": "2012"},
            ],
            "connection": {"auth": "negotiate", "username": "u", "password": {"env": "CLPBACKUP_PASSWORD"}},
            "scripts_dir": "C:\\clpbackup",
            "jobs": {"j": {**base, **job}},
        })

    assert render.canary_path(one(include=["C:\\data", "D:"]), "j") == (
        "D:\\clpbackup-canary\\j.txt", "jobs.j.include[1]")
    assert render.canary_path(one(include=["C:\\my data", "C:\\etc"]), "j") == (
        "C:\\etc\\clpbackup-canary\\j.txt", "jobs.j.include[1]")
    # an exclusion that covers the canary: the item is not used
    assert render.canary_path(one(include=["D:"], exclude=["D:\\clpbackup-canary"]), "j") is None
    # a folder cmd.exe would misread in a batch line is passed over, and never refuses the plan
    parens = one(include=["C:\\Program Files (x86)\\App", "C:\\etc"])
    assert render.canary_path(parens, "j") == ("C:\\etc\\clpbackup-canary\\j.txt", "jobs.j.include[1]")
    only = one(include=["C:\\Program Files (x86)\\App"])
    assert render.canary_path(only, "j") is None
    script = only.render()["a"].file("backup-script", "j").text()
    assert "DRILL-1: no volume or folder of job j can hold a canary" in script and "CANARY" not in script


def test_canary_path_on_2003_skips_a_bks_file_line() -> None:
    plan = plan_2003()
    for job, spec in plan.jobs.items():
        where = render.canary_path(plan, job)
        assert where is not None
        i = int(where[1].rsplit("[", 1)[1].rstrip("]"))
        item = spec.include[i]
        assert item.endswith("\\") or item.rstrip("\\").upper() == item[:2].upper()
