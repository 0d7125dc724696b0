"""A simulated cluster end to end: pypsrp → WinRM endpoint → node model, over days of model time.

What an operator's tool does is done here by hand through the transport (the batch files and
schedules are written as clpbackup renders them): deploy to both nodes, let the schedules run, fail
over, and read the outcome back with clpbackup's parsers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from clpbackup.parsers import ntbackup as ntb_parser
from clpbackup.parsers import schtasks as sch_parser
from clpbackup.parsers import wbadmin as wb_parser
from clpbackup.parsers.clpstat import group_owner
from clpbackup.plan import Plan
from clpbackup.testing.cluster import SimulatedCluster
from clpbackup.transport import open_session
from clpbackup.transport.types import ApplyRequest, FileWrite, InspectRequest

pytestmark = pytest.mark.e2e

SHARED_BAT = (
    "@echo off\r\n"
    "setlocal\r\n"
    'if not exist "C:\\clpbackup\\logs\\" mkdir "C:\\clpbackup\\logs"\r\n'
    'wbadmin start backup -include:E: "-backupTarget:\\\\nas01\\backup\\{node}-shared" -quiet'
    ' > "C:\\clpbackup\\logs\\shared-daily.log" 2>&1\r\n'
    "set RC=%ERRORLEVEL%\r\n"
    "exit /b %RC%\r\n"
)
START_SCRIPT = (
    '@echo off\r\ncd "%CLP_SCRIPT_PATH%"\r\n'
    "rem >>> clpbackup\r\n"
    'if "%CLP_EVENT%" == "FAILOVER" start "" cmd /c "C:\\clpbackup\\failover.bat"\r\n'
    "rem <<< clpbackup\r\n"
    "exit 0\r\n"
)
FAILOVER_BAT = '@echo off\r\ncall "C:\\clpbackup\\shared-daily.bat"\r\nexit /b %ERRORLEVEL%\r\n'


def deploy(sim: SimulatedCluster, node: str, files: dict[str, str], commands: list[list[str]]) -> None:
    plan = sim.plan
    enc = "cp932" if plan.codepage_for(node) == 932 else "cp437"
    writes = [FileWrite(path, text.replace("{node}", node).encode(enc)) for path, text in files.items()]
    with open_session(plan, node) as session:
        result = session.apply(ApplyRequest(writes=writes, commands=commands))
    assert all(c.ok for c in result.commands), result.commands
    assert all(f.changed for f in result.files)


def run_on(sim: SimulatedCluster, node: str, *argv: str) -> tuple[int | None, str]:
    with open_session(sim.plan, node) as session:
        res = session.inspect(InspectRequest(commands=[list(argv)], want_facts=False))
    return res.commands[0].rc, res.commands[0].stdout


@pytest.mark.parametrize("codepage", [437, 932])
def test_wsb_cluster_daily_backups_job3_and_failover(
    sim_cluster: Callable[..., SimulatedCluster], sim_plan: Callable[..., Plan], codepage: int
) -> None:
    plan = sim_plan(
        "2012",
        codepage,
        cluster={
            "name": "sim",
            "failover_group": "failover1",
            "switchover_volumes": ["E:"],
            "start_script": "C:\\clp\\start.bat",
        },
    )
    sim = sim_cluster(plan, strict=True)
    for node, at in (("node-a", "03:00"), ("node-b", "04:30")):  # SCH-2: the standby runs later
        deploy(
            sim,
            node,
            {
                "C:\\clpbackup\\shared-daily.bat": SHARED_BAT,
                "C:\\clpbackup\\failover.bat": FAILOVER_BAT,
                "C:\\clp\\start.bat": START_SCRIPT,
            },
            [
                [
                    "schtasks",
                    "/Create",
                    "/TN",
                    "clpbackup-sim-shared-daily",
                    "/TR",
                    "C:\\clpbackup\\shared-daily.bat",
                    "/SC",
                    "DAILY",
                    "/ST",
                    at,
                    "/RU",
                    "SYSTEM",
                    "/F",
                ]
            ],
        )
    sim.node("node-a").files.write("E:\\db\\data.mdb", b"day one")

    ran = sim.advance(hours=24)
    assert ran == ["node-a:clpbackup-sim-shared-daily", "node-b:clpbackup-sim-shared-daily"]

    # node-a (owner) backed up; node-b failed because E: is not attached there: JOB-3
    tasks = {}
    for node in ("node-a", "node-b"):
        rc, out = run_on(
            sim, node, "schtasks", "/Query", "/TN", "clpbackup-sim-shared-daily", "/FO", "LIST", "/V"
        )
        assert rc == 0
        tasks[node] = sch_parser.parse_query_list(out)[0]
    assert tasks["node-a"].last_result == 0
    assert tasks["node-b"].last_result not in (0, None)
    log_b = sim.node("node-b").files.read_text("C:\\clpbackup\\logs\\shared-daily.log")
    assert not wb_parser.parse_backup_summary(log_b).succeeded

    # the second hop: over WinRM (NTLM) the share refuses the session; a SYSTEM process reaches it
    rc, out = run_on(
        sim,
        "node-b",
        "wbadmin",
        "get",
        "versions",
        "-backupTarget:\\\\nas01\\backup\\node-a-shared",
        "-machine:NODE-A",
    )
    assert rc != 0 and wb_parser.parse_backup_summary(out).errors
    rc, out, _ = sim.node("node-b").model.run_as(
        "SYSTEM", "wbadmin get versions -backupTarget:\\\\nas01\\backup\\node-a-shared -machine:NODE-A"
    )
    assert [v.version_id for v in wb_parser.parse_versions(out)] == ["01/15/2024-03:00"]

    # failover: E: moves to node-b, the start script hands off to failover.bat (FO-1, FO-2)
    sim.advance(hours=2)
    run = sim.failover()
    assert (run.node, run.event, run.rc) == ("node-b", "FAILOVER", 0)
    assert (
        sim.owner == "node-b"
        and sim.node("node-b").has_volume("E:")
        and not sim.node("node-a").has_volume("E:")
    )
    rc, out, _ = sim.node("node-b").model.run_as(
        "SYSTEM", "wbadmin get versions -backupTarget:\\\\nas01\\backup\\node-b-shared -machine:NODE-B"
    )
    assert [v.version_id for v in wb_parser.parse_versions(out)] == ["01/16/2024-02:00"]

    with open_session(sim.plan, "node-a") as session:
        facts = session.facts(clpstat=True)
    assert facts.volume("E:") is None or not facts.volume("E:").present  # type: ignore[union-attr]
    assert facts.clpstat is not None and group_owner(facts.clpstat, "failover1") == "node-b"
    assert facts.oem_codepage == codepage


def test_ntbackup_cluster_on_2003_with_at(
    sim_cluster: Callable[..., SimulatedCluster], sim_plan: Callable[..., Plan]
) -> None:
    sim = sim_cluster(sim_plan("2003"), strict=True)
    bks = "E:\\\r\n".encode("utf-16-le")  # as NTBackup writes it: no BOM
    bat = (
        '@echo off\r\nstart /wait rsm.exe refresh /LF"Tape Library"\r\nping -n 61 127.0.0.1 > nul\r\n'
        'ntbackup.exe backup "@C:\\clpbackup\\shared-daily.bks" /V:no /R:no /RS:no /HC:on /M normal '
        '/J "shared-daily" /L:f /P "4mm DDS" /UM\r\nexit /b %ERRORLEVEL%\r\n'
    )
    for node in ("node-a", "node-b"):
        plan = sim.plan
        with open_session(plan, node) as session:
            res = session.apply(
                ApplyRequest(
                    writes=[
                        FileWrite("C:\\clpbackup\\shared-daily.bks", bks),
                        FileWrite("C:\\clpbackup\\shared-daily.bat", bat.encode("cp437")),
                    ],
                    commands=[
                        [
                            "at",
                            "03:00",
                            "/every:M,T,W,Th,F,S,Su",
                            "cmd",
                            "/c",
                            "C:\\clpbackup\\shared-daily.bat",
                        ]
                    ],
                )
            )
        assert res.commands[0].ok and "job ID = 1" in res.commands[0].stdout
    sim.advance(hours=4)
    logs: dict[str, Any] = {}
    for node in ("node-a", "node-b"):
        path = (
            "C:\\WINDOWS\\system32\\config\\systemprofile\\Local Settings\\Application Data\\Microsoft\\"
            "Windows NT\\NTBackup\\data\\backup01.log"
        )
        with open_session(sim.plan, node) as session:
            res = session.inspect(InspectRequest(read_paths=[path], want_facts=False))
        content = res.files[path].content
        assert content is not None
        logs[node] = ntb_parser.parse_log(content)
    assert logs["node-a"].ok and not logs["node-b"].ok
    assert sim.node("node-a").model.libraries["Tape Library"].refreshed
