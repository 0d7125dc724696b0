"""DRILL-1 offline: the drill log parser, the verdict, the node's offset, names and the drill script."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from clpbackup import nodestate, render
from clpbackup.errors import ParseError, PlanError
from clpbackup.nodestate import NodeState
from clpbackup.parsers.wbadmin import BackupVersion, parse_drill_log
from clpbackup.plan import Plan
from clpbackup.platforms import get_platform
from clpbackup.record import (
    canary_line,
    file_line,
    header_line,
    parse_record,
    record_bytes,
    record_lines,
    task_line,
    without,
)
from tests.helpers.argv import batch_line_to_command_line, command_line_to_argv, split_redirection

EXAMPLES = Path(__file__).resolve().parents[2] / "clpbackup" / "examples"
CAPTURE = Path("/work/shared/reference/outputs/wbadmin-start-recovery_file_ws2019_en-US.txt")

# the 2019 capture (shared/reference/outputs), with the canary line the drill script appends
RECOVERED_EN = """wbadmin 1.0 - Backup command-line tool
(C) Copyright Microsoft Corporation. All rights reserved.

Retrieving volume information...
You have chosen to recover the file(s) E:\\clpbackup-canary\\shared-daily.txt from the
backup created on 1/15/2024 3:00 AM to C:\\clpbackup\\drill.
Preparing to recover files...

Running the recovery operation for E:\\clpbackup-canary\\shared-daily.txt, copied (100%).
Currently recovering E:\\clpbackup-canary\\shared-daily.txt.
Successfully recovered E:\\clpbackup-canary\\shared-daily.txt to C:\\clpbackup\\drill\\.
The recovery operation completed.
Summary of the recovery operation:
--------------------

Recovery of E:\\clpbackup-canary\\shared-daily.txt to C:\\clpbackup\\drill\\ successfully completed.
Total bytes recovered: 57 bytes
Total files recovered: 1
Total files failed: 0

Log of files successfully recovered:
C:\\Windows\\Logs\\WindowsServerBackup\\FileRestore-15-01-2024_03-30-00.log
clpbackup-canary shared-daily 5444305953434 Mon 01/15/2024  3:00:00.00
"""

MISSING_VERSION_JA = """wbadmin 1.0 - バックアップ コマンドライン ツール
(C) Copyright Microsoft Corporation. All rights reserved.

ボリューム情報を取得しています...
エラー - バックアップ バージョン 01/15/2024-03:00 がバックアップ場所に見つかりませんでした。
"""


def plan(name: str = "ws2012-wsb.yaml", monkeypatch: pytest.MonkeyPatch | None = None) -> Plan:
    import os

    os.environ.setdefault("CLPBACKUP_PASSWORD", "x")
    return Plan.from_file(EXAMPLES / name)


def version(vid: str = "01/15/2024-03:00", local: str | None = "1/15/2024 3:00 AM") -> BackupVersion:
    when = datetime.strptime(vid, "%m/%d/%Y-%H:%M").replace(tzinfo=timezone.utc)
    return BackupVersion(vid, when, local, None, None, (), None)


# -- the parser ------------------------------------------------------------------------------------------


def test_a_recovered_canary_is_read_with_wbadmins_own_summary_line() -> None:
    log = parse_drill_log(RECOVERED_EN)
    assert log.recovered and log.token == "5444305953434" and log.job == "shared-daily"
    assert log.written == "Mon 01/15/2024  3:00:00.00"
    want = "Recovery of E:\\clpbackup-canary\\shared-daily.txt to C:\\clpbackup\\drill\\"
    assert log.message.startswith(want)
    assert log.log_path == "C:\\Windows\\Logs\\WindowsServerBackup\\FileRestore-15-01-2024_03-30-00.log"


@pytest.mark.skipif(not CAPTURE.exists(), reason="the shared reference captures are not mounted")
def test_the_real_2019_capture_parses_and_without_a_canary_is_not_recovered() -> None:
    text = "\n".join(line for line in CAPTURE.read_text().splitlines() if not line.startswith("#"))
    log = parse_drill_log(text)
    assert log.error is None and log.token is None and not log.recovered
    assert log.message == "Recovery of c:\\windows\\ntds\\ntds.dit to C:\\tmp\\ successfully completed."


def test_wbadmins_error_is_the_message_in_either_locale() -> None:
    log = parse_drill_log(MISSING_VERSION_JA)
    assert not log.recovered
    assert log.error == "バックアップ バージョン 01/15/2024-03:00 がバックアップ場所に見つかりませんでした。"
    own = parse_drill_log("DRILL-1: no backup of j made by NODE-X can be read on this node\r\n")
    assert own.error is not None and own.error.startswith("DRILL-1: no backup of j")


def test_an_empty_drill_log_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_drill_log("\r\n")


# -- the verdict -------------------------------------------------------------------------------------------


def _holder(p: Plan, job: str, tokens: list[str]) -> NodeState:
    state = NodeState()
    lines = [f"{t} Mon 01/15/2024  3:00:00.00 \r\n" for t in tokens]
    state.drill_files[render.canary_record_path(p, job)] = "".join(lines)
    return state


def test_the_verdict_passes_only_a_token_the_jobs_runs_recorded() -> None:
    p = plan()
    good = _holder(p, "shared-daily", ["111", "5444305953434"])
    verdict, message, _ = nodestate.drill_verdict(p, good, "shared-daily", version(), RECOVERED_EN)
    assert verdict == "pass" and "successfully completed" in message and "later run" not in message
    newer = _holder(p, "shared-daily", ["5444305953434", "222"])
    verdict, message, _ = nodestate.drill_verdict(p, newer, "shared-daily", version(), RECOVERED_EN)
    assert verdict == "pass" and "1 later run(s)" in message  # the last run failed: said, not hidden
    foreign = _holder(p, "shared-daily", ["111"])
    verdict, message, _ = nodestate.drill_verdict(p, foreign, "shared-daily", version(), RECOVERED_EN)
    assert verdict == "fail" and "5444305953434" in message and "not clpbackup's" in message
    verdict, message, _ = nodestate.drill_verdict(p, good, "shared-daily", version(), MISSING_VERSION_JA)
    assert verdict == "fail" and message.startswith("wbadmin: ")
    verdict, message, _ = nodestate.drill_verdict(p, good, "shared-daily", version(), None)
    assert verdict == "fail" and "no log" in message


def test_the_nodes_offset_comes_from_the_versions_local_time() -> None:
    assert nodestate.local_offset(version("01/15/2024-03:00", "1/14/2024 7:00 PM")) == timedelta(hours=-8)
    assert nodestate.local_offset(version("01/15/2024-03:00", "2024/01/15 12:00")) == timedelta(hours=9)
    assert nodestate.local_offset(version("01/15/2024-03:00", "15.01.2024 03:00")) is None
    assert nodestate.local_offset(version("01/15/2024-03:00", None)) is None


def test_status_reads_the_last_drill_and_says_when_it_cannot() -> None:
    p = plan()
    state = NodeState()
    state.drill_files[render.drill_result_path(p, "shared-daily")] = (
        '{"verdict": "fail", "when": "2024-01-16 00:00", "version": "01/15/2024-03:00", "machine": "node-a", '
        '"message": "wbadmin: gone"}\r\n'
    )
    state.drill_files[render.drill_result_path(p, "local-daily")] = "garbage"
    last = nodestate.last_drills(p, state)
    want = "fail at 2024-01-16 00:00 (version 01/15/2024-03:00 by node-a): wbadmin: gone"
    assert last["shared-daily"] == want
    assert last["local-daily"].startswith("unreadable: ")


# -- names, record, script -------------------------------------------------------------------------------


def test_a_job_named_like_another_jobs_drill_files_is_refused_at_load() -> None:
    data = plan().model_dump(mode="json", exclude_none=True)
    data["jobs"]["local-daily-drill"] = dict(data["jobs"]["local-daily"])
    with pytest.raises(PlanError, match="OWN-1: job 'local-daily-drill'"):
        Plan.from_dict(data)


def test_the_record_keeps_canary_lines() -> None:
    rec = parse_record((canary_line("E:\\clpbackup-canary\\j.txt").text + "\r\n").encode())
    assert [c.path for c in rec.canaries] == ["E:\\clpbackup-canary\\j.txt"] and not rec.empty


def test_a_drills_entries_go_into_the_record_and_out_again_leaving_the_rest_byte_for_byte() -> None:
    """OWN-1: the drill adds its script and task to the record as it is on the node, and takes
    exactly those out again (names compared as Windows does, case-insensitively)."""
    base = [
        header_line("prod").text,
        file_line("C:\\clpbackup\\j.bat", "ab" * 32).text,
        task_line("clpbackup-prod-j", 'cmd /c "C:\\clpbackup\\j.bat"', "03:00").text,
        canary_line("E:\\clpbackup-canary\\j.txt").text,
    ]
    on_node = record_bytes(base)
    drill = [
        file_line("C:\\clpbackup\\j-drill.bat", "cd" * 32).text,
        task_line("clpbackup-prod-j-drill", 'cmd /c "C:\\clpbackup\\j-drill.bat"', "00:00", "once").text,
    ]
    during = record_lines(on_node, "prod") + drill
    rec = parse_record(record_bytes(during))
    assert rec.file("c:\\CLPBACKUP\\j-drill.bat") is not None
    assert rec.task("clpbackup-prod-j-drill") is not None
    after = without(during, files=["C:\\CLPBACKUP\\J-DRILL.BAT"], tasks=["CLPBACKUP-prod-j-drill"])
    assert record_bytes(after) == on_node
    assert record_lines(None, "prod") == [header_line("prod").text]
    with pytest.raises(ParseError):
        record_lines(b"{not json\r\n", "prod")  # a damaged record is never written over


WSB_PLANS = ["ws2008r2-wsb.yaml", "ws2012-wsb.yaml", "ws2012-ja.yaml", "ws2019-wsb.yaml"]


@pytest.mark.parametrize("name", WSB_PLANS)
def test_the_drill_script_runs_the_platforms_recovery_and_stays_in_the_subset(name: str) -> None:
    from tests.unit.test_render import in_subset

    p = plan(name)
    for node in p.nodes:
        platform = get_platform(node.os)
        for job in p.jobs:
            for machine in render.drill_machines(p, node, job):
                script = render.drill_script(p, node, job, "01/15/2024-03:00", machine)
                assert script is not None and script.path == render.drill_script_path(p, job)
                text = script.text().split("\r\n")[:-1]
                assert all(in_subset(line) for line in text), text
                recoveries = [line for line in text if line.startswith("wbadmin start recovery ")]
                assert len(recoveries) == 1
                red = split_redirection(recoveries[0])
                assert red.target == render.drill_log_path(p, job) and red.stderr_to_stdout
                canary = render.canary_path(p, job)
                assert canary is not None
                want = platform.start_recovery(
                    "01/15/2024-03:00", "File", [canary[0]], target=render.job_target(p, job, machine),
                    machine=machine, recovery_target=render.drill_scratch(p), overwrite="overwrite",
                )
                assert command_line_to_argv(batch_line_to_command_line(red.command)) == list(want.argv)
                # the recovered copy is read into the log, then deleted, after the tool's exit code
                rc = text.index("set RC=%ERRORLEVEL%")
                assert text[rc + 1].startswith("if exist ") and " type " in text[rc + 1]
                assert text[rc + 2].startswith("if exist ") and " del " in text[rc + 2]


def test_2003_jobs_get_no_drill_script() -> None:
    p = plan("ws2003-ntbackup.yaml")
    for node in p.nodes:
        for job in p.jobs:
            assert render.drill_script(p, node, job, "01/15/2024-03:00", node.name) is None
        assert not [f for f in p.render()[node.name].files if f.role == "drill-script"]
