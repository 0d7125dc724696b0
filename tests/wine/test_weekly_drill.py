"""The weekly restore drill's batch file (DRILL-2) under Wine's cmd.exe, with the real ``wbadmin get
versions`` capture as wbadmin's output.

The recorder stands in for wbadmin and prints the capture (``CLPREC_OUT_WBADMIN``, tests/wine/c):
Wine's cmd.exe must pick the version identifier out of it by its shape, start exactly the platform's
``wbadmin start recovery -version:<that identifier>`` … command, and — the recorder recovers nothing —
find no canary, write that verdict, raise ALERT-1 event 104 and exit 3. A text with two versions
must give the later whichever comes first (no source gives wbadmin's order); one with none, exit 2
and no recovery. And the lines that judge the recovered canary, given a canary whose token carries
a quote and a command, run nothing and refuse it (without the line that drops the token's quotes,
Wine's cmd.exe ran the command: seen failing).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from clpbackup import alerts, render
from clpbackup.commands import Command
from clpbackup.plan import Plan
from clpbackup.platforms import get_platform
from tests.helpers.plans import EXAMPLES
from tests.wine.judge import compare
from tests.wine.test_cmd_forms import capture_text
from tests.wine.wine import Step, WinePrefix

pytestmark = pytest.mark.wine


def _plan(name: str) -> Plan:
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    data["drill"] = {"weekly": {"day": "SUN", "at": "08:00"}}
    return Plan.from_dict(data)


def _expected(plan: Plan, node: str, job: str, version: str | None, rc: int) -> list[Command]:
    n = plan.node(node)
    platform = get_platform(n.os)
    target = render.job_target(plan, job, n.name)
    where = render.canary_path(plan, job)
    assert where is not None
    out = [platform.get_versions(target, n.name)]
    if version is not None:
        out.append(
            platform.start_recovery(
                version,
                "File",
                [where[0]],
                target=target,
                machine=n.name,
                recovery_target=render.drill_scratch(plan),
                overwrite="overwrite",
            )
        )
    text = alerts.message(alerts.DRILL_FAILED, job, n.name, render.weekly_drill_log_path(plan, job))
    for c in alerts.alert_commands(alerts.DRILL_FAILED, text, n.os, field=None):
        out.append(Command(tuple(a.replace(alerts.RC, str(rc)) for a in c.argv), c.os))
    return out


@pytest.mark.parametrize("name", ["ws2012-wsb.yaml", "ws2012-ja.yaml"])
def test_wine_finds_the_version_in_the_real_capture_and_starts_that_recovery(
    name: str, wine: dict[int, WinePrefix]
) -> None:
    plan = _plan(name)
    prefix = wine[plan.codepage_for(plan.nodes[0])]
    node = plan.nodes[0].name
    job = next(j for j in render.weekly_drill_starts(plan) if plan.jobs[j].scope == "local")
    prefix.reset(set())
    script = render.weekly_drill_script(plan, node, job)
    assert script is not None
    prefix.write(script.path, script.content)
    prefix.write(render.canary_record_path(plan, job), b"123456789 Sun 01/21/2024  1:00:00.00 \r\n")
    two = (
        capture_text()
        + "\r\n"
        + capture_text().split("\r\n\r\n", 1)[1].replace("10/04/2020-17:48", "10/05/2020-17:48")
    )
    # newest first: no Microsoft source gives wbadmin's order, so the script keeps the greatest
    # identifier (the last-match subroutine recovered 10/04 here: seen failing)
    newest_first = (
        capture_text().replace("10/04/2020-17:48", "10/05/2020-17:48")
        + "\r\n"
        + capture_text().split("\r\n\r\n", 1)[1]
    )
    none = "\r\n".join(capture_text().split("\r\n")[:3]) + "\r\n"
    entry = render.weekly_drill_schedule(plan, node, job)
    runs = []
    for i, text in enumerate((capture_text(), two, newest_first, none)):
        canned = f"C:\\clpjudge\\cap{i}.txt"
        prefix.write(canned, text.encode("ascii"))
        runs.append(Step(entry.run, {"CLPREC_OUT_WBADMIN": canned}))
    results = prefix.launch(runs)
    for (_log, result), version, rc in zip(
        results, ("10/04/2020-17:48", "10/05/2020-17:48", "10/05/2020-17:48", None), (3, 3, 3, 2), strict=True
    ):
        assert result.rc == rc, (version, result)
        problems = compare(result.records, _expected(plan, node, job, version, rc))
        assert problems == [], (version, problems)
    # the last run's verdict (no version) is the one status reads
    verdict = prefix.read(render.drill_result_path(plan, job))
    assert verdict is not None
    data = json.loads(verdict.decode("ascii"))
    assert data["verdict"] == "fail" and data["by"] == "weekly task" and data["machine"] == node
    assert data["message"] == (
        f"wbadmin get versions (exit code 0) listed no version made by {node} at the job's target: "
        f"see logs\\{job}-drill-versions.txt"
    )
    log = prefix.read(render.weekly_drill_log_path(plan, job))
    assert log is not None and b"DRILL-2: weekly drill of" in log and b"newest version" not in log
    # wbadmin's answer stays for the operator, and a failed wbadmin is told apart by its exit code
    # (the recorder also writes a line to stderr: 2>&1 keeps it in the file)
    stderr = b"clpbackup-recorder: err\r\n"
    assert prefix.read(render.weekly_drill_versions_path(plan, job)) == none.encode("ascii") + stderr
    failed = "ERROR - The network path was not found.\r\n"
    prefix.write("C:\\clpjudge\\failed.txt", failed.encode("ascii"))
    [(_log, result)] = prefix.launch(
        [Step(entry.run, {"CLPREC_OUT_WBADMIN": "C:\\clpjudge\\failed.txt", "CLPREC_RC_WBADMIN": "5"})]
    )
    assert result.rc == 2 and compare(result.records, _expected(plan, node, job, None, 2)) == []
    verdict = prefix.read(render.drill_result_path(plan, job))
    assert verdict is not None
    assert json.loads(verdict.decode("ascii"))["message"] == (
        f"wbadmin get versions failed with exit code 5 and gave no version made by {node} (the target "
        f"unreachable, access denied, or no backup there): its answer is in logs\\{job}-drill-versions.txt"
    )
    assert prefix.read(render.weekly_drill_versions_path(plan, job)) == failed.encode("ascii") + stderr


def _judging_lines(plan: Plan, node: str, job: str) -> list[str]:
    """The rendered lines that read the recovered canary and compare its token with the record."""
    script = render.weekly_drill_script(plan, node, job)
    assert script is not None
    lines = script.content.decode(script.encoding).split("\r\n")
    start = lines.index("set GOT=")
    end = next(i for i, ln in enumerate(lines) if ln.startswith("if not defined MATCH goto"))
    return [ln for ln in lines[start : end + 1] if not ln.startswith("if exist ")]


@pytest.mark.parametrize("name", ["ws2012-wsb.yaml", "ws2012-ja.yaml"])
def test_a_canary_with_a_quote_and_a_command_is_judged_not_run(
    name: str, wine: dict[int, WinePrefix]
) -> None:
    """A canary changed to end the comparison's quotes (``1"&echo …>file``) is not a pass and runs
    nothing: the token's quotes are dropped before it is compared (the drill runs as SYSTEM)."""
    plan = _plan(name)
    prefix = wine[plan.codepage_for(plan.nodes[0])]
    node = plan.nodes[0].name
    job = next(j for j in render.weekly_drill_starts(plan) if plan.jobs[j].scope == "local")
    prefix.reset(set())
    where = render.canary_path(plan, job)
    assert where is not None
    copy = f"{render.drill_scratch(plan)}\\{where[0].rpartition(chr(92))[2]}"
    prefix.write(copy, f'clpbackup-canary {job} 1"&echo x>C:\\pwned.txt&rem Sun\r\n'.encode("ascii"))
    prefix.write(render.canary_record_path(plan, job), b'1"&echo x>C:\\pwned.txt&rem Sun\r\n123 Sun\r\n')
    body = ["@echo off", "setlocal", *_judging_lines(plan, node, job)]
    body += [
        "echo passed> C:\\judge-out.txt",
        "exit /b 0",
        ":not_recorded",
        "echo refused> C:\\judge-out.txt",
        "exit /b 4",
    ]
    prefix.write("C:\\judge.bat", "".join(ln + "\r\n" for ln in body).encode(f"cp{prefix.codepage}"))
    [(_log, result)] = prefix.launch([Step('cmd /c "C:\\judge.bat"')])
    assert not prefix.exists("C:\\pwned.txt"), "the canary's text ran as a command"
    out = prefix.read("C:\\judge-out.txt")
    assert result.rc == 4 and out is not None and out.strip() == b"refused", (result, out)
