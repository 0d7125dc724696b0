"""nodestate: diffing schedules (IDEM-1), verdicts (JOB-3), one-shots, restore source (RS-1). Pure."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, time
from pathlib import Path

import pytest

from clpbackup import nodestate
from clpbackup.commands import Command
from clpbackup.errors import PlanError
from clpbackup.ownership import OwnerDecision
from clpbackup.parsers.at import AtJob
from clpbackup.parsers.schtasks import ScheduledTask, TaskTrigger
from clpbackup.parsers.wbadmin import BackupVersion
from clpbackup.plan import Plan
from clpbackup.record import Record, RecordedAt, RecordedTask
from clpbackup.transport.types import CommandResult, InspectResult
from tests.helpers.parsers import fixture_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plans"


def task(
    name: str,
    run: str,
    at: str,
    *,
    kind: str = "daily",
    last_result: int | None = 0,
    last_run: datetime | None = None,
    user: str = "SYSTEM",
    state: str = "ready",
    next_run: datetime | None = None,
) -> ScheduledTask:
    h, m = (int(x) for x in at.split(":"))
    trig = TaskTrigger(kind=kind, schedule_type=kind, start_time=time(h, m), start_date=None)  # type: ignore[arg-type]
    return ScheduledTask(
        name=name,
        host="X",
        next_run=next_run,
        status=None,
        state=state,  # type: ignore[arg-type]
        last_run=last_run,
        last_result=last_result,
        author=None,
        task_to_run=run,
        run_as_user=user,
        enabled=True,
        triggers=(trig,),
    )


@pytest.fixture(scope="module")
def plan2012() -> Plan:
    return Plan.from_file(EXAMPLES / "ws2012-wsb.yaml")


@pytest.fixture(scope="module")
def plan2008() -> Plan:
    return Plan.from_file(EXAMPLES / "ws2008r2-wsb.yaml")


def recorded(tasks: Sequence[ScheduledTask] = (), at_jobs: Sequence[AtJob] = ()) -> Record:
    """A record listing these tasks and AT jobs (as deploy writes it)."""
    return Record(
        present=True,
        tasks=[RecordedTask(t.name, t.task_to_run or "", "00:00") for t in tasks],
        at_jobs=[RecordedAt(j.job_id, j.command, j.time, j.days if j.recurring else ()) for j in at_jobs],
    )


def deployed_tasks(plan: Plan, node: str) -> list[ScheduledTask]:
    art = plan.render()[node]
    return [task(e.name, e.run, e.at) for e in art.schedules]


def test_empty_node_gets_every_daily_task_created(plan2012: Plan) -> None:
    node = plan2012.home_node
    art = plan2012.render()[node.name]
    diff = nodestate.schedule_changes(plan2012, node, art, nodestate.NodeState(tasks=[]))
    changes, commands = diff.changes, diff.commands
    assert {c.action for c in changes} == {"create"}
    assert [c.argv for c in commands] == [e.argv for e in art.schedules]
    assert all("/RP" not in c.argv for c in commands)  # SEC-1


def test_deployed_node_needs_nothing(plan2012: Plan) -> None:
    node = plan2012.standby_node
    art = plan2012.render()[node.name]
    state = nodestate.NodeState(
        tasks=[*deployed_tasks(plan2012, node.name), task("Foreign", "x.exe", "02:00")]
    )
    state.record = recorded(tasks=deployed_tasks(plan2012, node.name))
    diff = nodestate.schedule_changes(plan2012, node, art, state)
    assert diff.commands == []
    assert {c.action for c in diff.changes} == {"unchanged"}


def test_exact_matches_without_a_record_are_adopted_and_recorded(plan2012: Plan) -> None:
    node = plan2012.standby_node
    art = plan2012.render()[node.name]
    diff = nodestate.schedule_changes(
        plan2012, node, art, nodestate.NodeState(tasks=deployed_tasks(plan2012, node.name))
    )
    assert diff.commands == [] and {c.action for c in diff.changes} == {"adopt"}
    assert [json.loads(x.text)["name"] for x in diff.record] == [e.name for e in art.schedules]


def test_a_foreign_task_with_a_planned_name_is_a_conflict_not_replaced(plan2012: Plan) -> None:
    node = plan2012.home_node
    art = plan2012.render()[node.name]
    mine = art.schedules[0]
    theirs = task(mine.name, r"C:\tools\export.cmd", "06:00")
    diff = nodestate.schedule_changes(plan2012, node, art, nodestate.NodeState(tasks=[theirs]))
    assert diff.conflicts and mine.name in diff.conflicts[0]
    assert all(mine.name not in c.argv for c in diff.commands)
    adopted = nodestate.schedule_changes(plan2012, node, art, nodestate.NodeState(tasks=[theirs]), adopt=True)
    assert not adopted.conflicts and any(mine.name in c.argv for c in adopted.commands)


def test_changed_time_updates_and_stale_own_task_is_removed_but_not_one_shots(plan2012: Plan) -> None:
    node = plan2012.home_node
    art = plan2012.render()[node.name]
    tasks = deployed_tasks(plan2012, node.name)
    tasks[0] = task(tasks[0].name, tasks[0].task_to_run or "", "09:09")
    tasks.append(task("clpbackup-prod-db-old-job", r'cmd /c "C:\clpbackup\old-job.bat"', "02:00"))
    tasks.append(
        task("clpbackup-prod-db-shared-daily-once", r'cmd /c "C:\clpbackup\shared-daily.bat"', "06:00")
    )
    tasks.append(task("clpbackup-prod-db-manual-export", r"C:\tools\export.cmd", "06:00"))
    state = nodestate.NodeState(tasks=tasks, record=recorded(tasks=tasks[:-2]))
    diff = nodestate.schedule_changes(plan2012, node, art, state)
    actions = {c.name: c.action for c in diff.changes}
    assert actions[tasks[0].name] == "update"
    assert actions["clpbackup-prod-db-old-job"] == "delete"  # recorded, no longer planned: stale
    assert "clpbackup-prod-db-shared-daily-once" not in actions
    assert "clpbackup-prod-db-manual-export" not in actions  # OWN-1: not recorded, never touched
    assert diff.commands[0].argv[:2] == ("schtasks", "/Delete")  # deletions first
    assert [c.argv[:2] for c in diff.commands].count(("schtasks", "/Delete")) == 1


def test_task_running_as_a_user_is_different_sec1(plan2012: Plan) -> None:
    node = plan2012.home_node
    art = plan2012.render()[node.name]
    entry = art.schedules[0]
    why = nodestate._task_matches(task(entry.name, entry.run, entry.at, user="EXAMPLE\\admin"), entry)
    assert why is not None and "SEC-1" in why


def at_jobs_for(plan: Plan, node: str) -> list[AtJob]:
    art = plan.render()[node]
    return [
        AtJob(
            job_id=i + 1,
            status=None,
            schedule="Each M T W Th F S Su",
            kind="each",
            days=e.days,
            time=e.at,
            command=e.run,
        )
        for i, e in enumerate(art.schedules)
    ]


def test_at_jobs_are_never_added_twice_idem1(plan2008: Plan) -> None:
    node = plan2008.home_node
    art = plan2008.render()[node.name]
    assert all(e.scheduler == "at" for e in art.schedules)
    state = nodestate.NodeState(tasks=[], at_jobs=at_jobs_for(plan2008, node.name))
    assert nodestate.schedule_changes(plan2008, node, art, state).commands == []
    # a recorded duplicate (a concurrent deploy of an older clpbackup) is removed, the original kept
    dup = state.at_jobs[0]
    extra = AtJob(99, None, dup.schedule, "each", dup.days, dup.time, dup.command)
    jobs = [*state.at_jobs, extra]
    state2 = nodestate.NodeState(tasks=[], at_jobs=jobs, record=recorded(at_jobs=jobs))
    diff = nodestate.schedule_changes(plan2008, node, art, state2)
    assert [c.argv for c in diff.commands] == [("at", "99", "/delete", "/yes")]
    # an unrecorded one is not clpbackup's to delete (OWN-1): left alone
    state3 = nodestate.NodeState(tasks=[], at_jobs=jobs, record=recorded(at_jobs=state.at_jobs))
    assert nodestate.schedule_changes(plan2008, node, art, state3).commands == []


def test_an_at_job_is_clpbackups_only_when_id_command_and_time_agree_with_the_record(plan2008: Plan) -> None:
    node = plan2008.home_node
    art = plan2008.render()[node.name]
    ours = AtJob(7, None, "Each M", "each", ("M",), "04:00", r'cmd /c "C:\clpbackup\old-job.bat"')
    theirs = AtJob(8, None, "Each M", "each", ("M",), "05:00", r'cmd /c "copy C:\clpbackup\logs\*.log x"')
    jobs = [*at_jobs_for(plan2008, node.name), ours, theirs]
    # the record says id 7 ran another command: the node and the record disagree, so 7 is foreign
    wrong = RecordedAt(7, r'cmd /c "C:\clpbackup\other.bat"', "04:00", ("M",))
    state = nodestate.NodeState(tasks=[], at_jobs=jobs, record=Record(present=True, at_jobs=[wrong]))
    assert nodestate.schedule_changes(plan2008, node, art, state).commands == []
    state.record = recorded(at_jobs=[ours])
    diff = nodestate.schedule_changes(plan2008, node, art, state)
    assert [c.argv for c in diff.commands] == [("at", "7", "/delete", "/yes")]


def test_at_one_shot_jobs_are_left_alone(plan2008: Plan) -> None:
    node = plan2008.home_node
    art = plan2008.render()[node.name]
    jobs = at_jobs_for(plan2008, node.name)
    once = AtJob(50, None, "Tomorrow", "tomorrow", (), "06:00", jobs[0].command)
    diff = nodestate.schedule_changes(
        plan2008, node, art, nodestate.NodeState(tasks=[], at_jobs=[*jobs, once])
    )
    assert diff.commands == []


def test_missing_at_listing_is_an_error_not_a_guess(plan2008: Plan) -> None:
    node = plan2008.home_node
    art = plan2008.render()[node.name]
    with pytest.raises(Exception, match="AT jobs"):
        nodestate.schedule_changes(
            plan2008, node, art, nodestate.NodeState(tasks=[], errors={"at": "denied"})
        )


def test_switchover_failure_on_the_standby_is_expected_job3(plan2012: Plan) -> None:
    node = plan2012.standby_node
    art = plan2012.render()[node.name]
    tasks = [
        task(
            e.name,
            e.run,
            e.at,
            last_result=1 if e.job == "shared-daily" else 0,
            last_run=datetime(2026, 1, 1, 4, 15),
        )
        for e in art.schedules
    ]
    st = nodestate.schedule_status(plan2012, node, art, nodestate.NodeState(tasks=tasks), owner=False)
    verdicts = {s.job: s.verdict for s in st}
    assert "JOB-3" in verdicts["shared-daily"]
    owner_st = nodestate.schedule_status(plan2012, node, art, nodestate.NodeState(tasks=tasks), owner=True)
    assert {s.job: s.verdict for s in owner_st}["shared-daily"].startswith("failed")


def test_one_shot_is_idempotent(plan2012: Plan) -> None:
    node = plan2012.home_node
    art = plan2012.render()[node.name]
    _action, commands = nodestate.one_shot_commands(
        plan2012, node, art, nodestate.NodeState(tasks=[]), "shared-daily", "06:00"
    )
    # FO-2: registered for the next 06:00 on the node's clock (schtasks /ST alone would be today)
    assert commands and commands[0].argv[0] == "powershell" and "-EncodedCommand" in commands[0].argv
    entry = nodestate.render.once_schedule(plan2012, node, "shared-daily", "06:00")
    tomorrow = datetime(2026, 12, 7, 6)
    pending = task(entry.name, entry.run, "06:00", kind="once", last_result=None, next_run=tomorrow)
    state = nodestate.NodeState(tasks=[pending])
    action2, commands2 = nodestate.one_shot_commands(plan2012, node, art, state, "shared-daily", "06:00")
    assert commands2 == [] and "already" in action2
    # a one-shot whose time passed without a run (no next run) is not "already scheduled"
    passed = task(entry.name, entry.run, "06:00", kind="once", last_result=None, next_run=None)
    action3, commands3 = nodestate.one_shot_commands(
        plan2012, node, art, nodestate.NodeState(tasks=[passed]), "shared-daily", "06:00"
    )
    assert commands3 == commands and "already" not in action3


def test_restore_source_names_the_newest_version_and_the_owner(plan2012: Plan) -> None:
    def ver(vid: str) -> BackupVersion:
        m, d, rest = vid.split("/")
        y, hm = rest.split("-")
        return BackupVersion(
            vid, datetime(int(y), int(m), int(d), int(hm[:2]), int(hm[3:])), None, None, None, (), None
        )

    states = {
        "node-a": nodestate.NodeState(versions={"shared-daily": [ver("11/25/2026-03:00")]}),
        "node-b": nodestate.NodeState(
            versions={"shared-daily": [ver("11/26/2026-06:00"), ver("11/24/2026-04:15")]}
        ),
    }
    decision = OwnerDecision("node-b")
    src = nodestate.restore_source(plan2012, plan2012.render(), states, decision, "shared-daily", "E:")
    assert src.ok and src.node == "node-b" and src.version == "11/26/2026-06:00"
    assert src.command is not None and "-itemtype:Volume" in src.command and "-machine:node-b" in src.command
    unknown = nodestate.restore_source(
        plan2012, plan2012.render(), states, OwnerDecision(None, ("x",)), "shared-daily", "E:"
    )
    assert not unknown.ok and unknown.problems[0].rule == "RS-1"


def test_job_for_item_refuses_local_volumes(plan2012: Plan) -> None:
    assert nodestate.job_for_item(plan2012, r"E:\db\x.mdf") == "shared-daily"
    with pytest.raises(PlanError, match="RS-1"):
        nodestate.job_for_item(plan2012, "C:")


@pytest.mark.parametrize(
    ("argv", "stderr", "benign"),
    [
        (
            ("schtasks", "/Delete", "/TN", "x", "/F"),
            "ERROR: The system cannot find the file specified.",
            True,
        ),
        (("schtasks", "/Delete", "/TN", "x", "/F"), "エラー: 指定されたファイルが見つかりません。", True),
        (("schtasks", "/Delete", "/TN", "x", "/F"), "ERROR: Access is denied.", False),
        (("schtasks", "/Create", "/TN", "x"), "ERROR: The system cannot find the file specified.", False),
        (("at", "3", "/delete", "/yes"), "The AT job ID does not exist.", True),
    ],
)
def test_deleting_what_is_already_gone_is_benign(argv: tuple[str, ...], stderr: str, benign: bool) -> None:
    from clpbackup.transport.types import CommandResult

    assert nodestate.benign_failure(CommandResult(argv, 1, "", stderr)) is benign


# -- the read pipeline: probes (command, parser, slot) ---------------------------------------------


def _answer(*results: tuple[int | None, str]) -> InspectResult:
    return InspectResult(
        facts=None,
        commands=[CommandResult(argv=("x",), rc=rc, stdout=out, stderr="") for rc, out in results],
    )


def _direct(plan: Plan) -> Plan:
    """The plan with connection.auth: credssp: share versions are read directly (no second hop)."""
    return plan.model_copy(update={"connection": plan.connection.model_copy(update={"auth": "credssp"})})


def test_the_request_sends_exactly_the_probes_commands(plan2012: Plan) -> None:
    plan2012 = _direct(plan2012)
    node = plan2012.home_node
    art = plan2012.render()[node.name]
    request, probes = nodestate.build_inspect(plan2012, node, art, versions=True)
    assert list(request.commands) == [p.command for p in probes]
    wsb_jobs = [j for j, spec in plan2012.jobs.items() if spec.ntbackup is None and spec.target]
    assert [p.name for p in probes] == ["schtasks", *(f"versions:{j}" for j in wsb_jobs)]
    assert all(p.command.argv[0] == "wbadmin" for p in probes[1:])
    _, without = nodestate.build_inspect(plan2012, node, art)
    assert [p.name for p in without] == ["schtasks"]


def test_each_probe_fills_its_own_slot_or_records_why_not(plan2012: Plan) -> None:
    plan2012 = _direct(plan2012)
    node = plan2012.home_node
    art = plan2012.render()[node.name]
    _, probes = nodestate.build_inspect(plan2012, node, art, versions=True)
    listing = fixture_text("schtasks", "2012-en-US", "query-csv-v.txt")
    versions = fixture_text("wbadmin", "2012-en-US", "get-versions_share.txt")
    none_yet = _VERSIONS_OK.split("Backup time")[0] + "ERROR - No backups were found.\r\n"
    first, second = probes[1].job, probes[2].job
    state = nodestate.read_state(plan2012, node, probes, _answer((0, listing), (0, versions), (1, none_yet)))
    assert state.tasks and state.errors == {} and state.version_errors == {}
    assert state.versions[str(first)] and state.versions[str(second)] == []  # no backup yet: none
    denied = _answer((5, "Access is denied."), (0, "garbage"), (1, ""))
    state = nodestate.read_state(plan2012, node, probes, denied)
    assert state.tasks is None and state.errors["schtasks"] == "Access is denied."
    # an unreadable or empty answer is unknown (None, with the reason), never "no backup"
    assert state.versions[str(first)] is None and str(first) in state.version_errors
    assert state.versions[str(second)] is None and str(second) in state.version_errors


def test_an_answer_with_a_command_missing_is_refused_not_zipped_short(plan2012: Plan) -> None:
    plan2012 = _direct(plan2012)
    node = plan2012.home_node
    art = plan2012.render()[node.name]
    _, probes = nodestate.build_inspect(plan2012, node, art, versions=True)
    with pytest.raises(ValueError):
        nodestate.read_state(plan2012, node, probes, _answer((0, "")))


def test_run_marker_tells_a_new_run_from_the_one_seen_before(plan2012: Plan) -> None:
    node = plan2012.home_node
    art = plan2012.render()[node.name]
    daily = next(e for e in art.schedules if e.job == "shared-daily")
    before_run = datetime(2026, 1, 1, 4, 15)
    state = nodestate.NodeState(tasks=[task(daily.name, daily.run, daily.at, last_run=before_run)])
    marker = nodestate.last_run_marker(plan2012, node, art, state, "shared-daily")
    assert marker == nodestate.RunMarker(daily.name, before_run)
    same = nodestate.run_result(plan2012, node, art, state, "shared-daily", marker)
    assert same.outcome == "running"
    later = nodestate.NodeState(
        tasks=[task(daily.name, daily.run, daily.at, last_run=datetime(2026, 1, 1, 9, 0))]
    )
    assert nodestate.run_result(plan2012, node, art, later, "shared-daily", marker).outcome == "success"
    gone = nodestate.run_result(plan2012, node, art, nodestate.NodeState(tasks=[]), "shared-daily", marker)
    assert gone.outcome == "failed" and daily.name in gone.problems[0].message
    unknown = nodestate.run_result(plan2012, node, art, later, "shared-daily", None)
    assert unknown.outcome == "failed" and "the task shared-daily that runs" in unknown.problems[0].message


# -- the second hop: share versions are read from what the job's own run recorded ----------------------

_VERSIONS_OK = (
    "wbadmin 1.0 - Backup command-line tool\r\n"
    "(C) Copyright Microsoft Corporation. All rights reserved.\r\n\r\n"
    "Backup time: 11/26/2026 6:00 AM\r\n"
    "Backup location: Network Share labeled \\\\nas01\\backup\\node-b-shared\\\r\n"
    "Version identifier: 11/26/2026-06:00\r\n"
    "Can recover: Volume(s), File(s)\r\n\r\n"
)
_DENIED = (
    "wbadmin 1.0 - Backup command-line tool\r\n"
    "(C) Copyright Microsoft Corporation. All rights reserved.\r\n\r\n"
    "ERROR - Access is denied.\r\n"
)


def _inspect_answer(
    request: object, files: dict[str, bytes | None], commands: list[tuple[int, str]]
) -> object:
    from clpbackup.transport.types import CommandResult, FileState, InspectResult

    return InspectResult(
        facts=None,
        files={p: FileState(p, "x" if c is not None else None, c) for p, c in files.items()},
        commands=[CommandResult(("x",), rc, out, "") for rc, out in commands],
    )


def test_share_versions_come_from_the_recorded_file_not_a_winrm_read(plan2012: Plan) -> None:
    """The second hop: over NTLM the share refuses the session, so no wbadmin get versions of a
    share is sent; the job's own record (logs\\<job>-versions.txt) is read in the same request."""
    node = plan2012.node("node-b")
    request, tags = nodestate.build_inspect(plan2012, node, plan2012.render()["node-b"], versions=True)
    assert not any(c.argv[:3] == ("wbadmin", "get", "versions") for c in request.commands)
    assert "C:\\clpbackup\\logs\\shared-daily-versions.txt" in request.read_paths
    assert "C:\\clpbackup\\logs\\local-daily-versions.txt" in request.read_paths
    answer = _inspect_answer(
        request,
        {
            "C:\\clpbackup\\logs\\shared-daily-versions.txt": _VERSIONS_OK.encode("cp437"),
            "C:\\clpbackup\\logs\\local-daily-versions.txt": None,
        },
        [(0, "")] * len(tags),
    )
    state = nodestate.read_state(plan2012, node, tags, answer)  # type: ignore[arg-type]
    assert [v.version_id for v in state.versions["shared-daily"] or []] == ["11/26/2026-06:00"]
    # not run since deploy: unknown, said so (a note), never "no backup"
    assert state.versions["local-daily"] is None and not state.version_errors
    pending = state.version_pending["local-daily"]
    assert "local-daily" in pending and "\\\\nas01\\backup\\node-b" in pending and "second hop" in pending
    assert "C:\\clpbackup\\logs\\local-daily-versions.txt" in pending
    # a job whose script is not even deployed: JOB-1 says so, no versions note on top
    answer = _inspect_answer(
        request,
        {"C:\\clpbackup\\logs\\local-daily-versions.txt": None, "C:\\clpbackup\\local-daily.bat": None},
        [(0, "")] * len(tags),
    )
    state = nodestate.read_state(plan2012, node, tags, answer)  # type: ignore[arg-type]
    assert state.versions["local-daily"] is None and "local-daily" not in state.version_pending


def test_a_recorded_refusal_is_a_problem_naming_node_target_and_what_to_do(plan2012: Plan) -> None:
    node = plan2012.node("node-b")
    request, tags = nodestate.build_inspect(plan2012, node, plan2012.render()["node-b"], versions=True)
    answer = _inspect_answer(
        request,
        {f"C:\\clpbackup\\logs\\{j}-versions.txt": _DENIED.encode("cp437") for j in plan2012.jobs},
        [(0, "")] * len(tags),
    )
    state = nodestate.read_state(plan2012, node, tags, answer)  # type: ignore[arg-type]
    assert state.versions["shared-daily"] is None
    problems = nodestate.version_problems(node, state)
    assert {p.rule for p in problems} == {"WSB-3"} and all(p.node == "node-b" for p in problems)
    text = next(p.message for p in problems if "shared-daily" in p.message)
    assert "Access is denied." in text and "\\\\nas01\\backup\\node-b-shared" in text
    assert "NODE-B$" in text  # what to do: the computer account needs access to the share


def test_credssp_reads_the_share_directly_and_a_refusal_is_not_no_backup(plan2012: Plan) -> None:
    """With delegated credentials (connection.auth: credssp) the direct read is used; its refusal is
    reported, not read as an empty version list (it used to be: rc != 0 gave [])."""
    plan = plan2012.model_copy(
        update={"connection": plan2012.connection.model_copy(update={"auth": "credssp"})}
    )
    node = plan.node("node-a")
    assert nodestate.reads_shares_directly(plan, node)
    request, tags = nodestate.build_inspect(plan, node, plan.render()["node-a"], versions=True)
    assert not any(p.endswith("-versions.txt") for p in request.read_paths)
    versions = [c for c in request.commands if c.argv[:3] == ("wbadmin", "get", "versions")]
    assert len(versions) == len(plan.jobs)
    answer = _inspect_answer(request, {}, [(0, "")] + [(1, _DENIED)] * len(versions))
    state = nodestate.read_state(plan, node, tags, answer)  # type: ignore[arg-type]
    assert all(state.versions[j] is None for j in plan.jobs)
    assert all("Access is denied." in state.version_errors[j] for j in plan.jobs)
    assert "Enable-WSManCredSSP" in state.version_errors["shared-daily"]


def test_restore_source_refuses_when_a_node_versions_are_unknown(plan2012: Plan) -> None:
    """RS-1 fails closed: the copy that cannot be seen may be the newest."""
    state_b = nodestate.NodeState(versions={"shared-daily": None})
    state_b.version_errors["shared-daily"] = "wbadmin get versions of … failed: Access is denied."
    states = {
        "node-a": nodestate.NodeState(
            versions={
                "shared-daily": [
                    BackupVersion("11/25/2026-03:00", datetime(2026, 11, 25, 3), None, None, None, (), None)
                ]
            }
        ),
        "node-b": state_b,
    }
    src = nodestate.restore_source(
        plan2012, plan2012.render(), states, OwnerDecision("node-b"), "shared-daily", "E:"
    )
    assert not src.ok and src.candidates == {"node-a": "11/25/2026-03:00", "node-b": None}
    assert any(
        p.rule == "RS-1" and p.node == "node-b" and "Access is denied." in p.message for p in src.problems
    )


# -- LIVE-1 -------------------------------------------------------------------------------------------


def test_live_runs_are_the_running_tasks_that_name_the_whole_batch_path() -> None:
    bat = r"C:\clpbackup\local-daily.bat"
    state = nodestate.NodeState(
        tasks=[
            task("clpbackup-p-local-daily", f'cmd /c "{bat}"', "01:00", state="running"),
            task(
                "clpbackup-p-local-daily-drill-weekly",
                r'cmd /c "C:\clpbackup\local-daily-drill-weekly.bat"',
                "08:00",
                state="running",
            ),
            task("At3", rf"cmd /c {bat}", "02:00", last_result=0x41301),  # 0x41301: running
            task("other", rf'cmd /c "{bat}.old"', "03:00", state="running"),  # another file
        ]
    )
    runs = nodestate.batch_runs(state, [bat, r"C:\clpbackup\notes.txt"])
    found = [(r.task, r.running) for r in runs[bat.lower()]]
    assert found == [("clpbackup-p-local-daily", True), ("At3", True)]
    assert nodestate.live_files(runs)[bat.lower()].task == "clpbackup-p-local-daily"
    idle = nodestate.NodeState(tasks=[task("clpbackup-p-local-daily", f'cmd /c "{bat}"', "01:00")])
    assert nodestate.live_files(nodestate.batch_runs(idle, [bat])) == {}


def test_the_running_guard_matches_a_running_row_of_the_listed_tasks_only() -> None:
    """``schtasks /Query /FO CSV /V`` rows (Task Scheduler 2.0 with its leading \\, 1.0 without;
    English and Japanese status words, parsers/schtasks.py)."""
    query = Command(("schtasks", "/Query", "/FO", "CSV", "/V"), "2012")
    guard = nodestate.running_guard(query, ["clpbackup-p-local-daily", "At3"])
    assert guard is not None and guard[0] is query
    pattern = guard[1]
    v2 = '"NODE-A","\\{name}","1/16/2024 1:00:00 AM","{status}","Interactive/Background"'
    rows = {
        v2.format(name="clpbackup-p-local-daily", status="Running"): True,
        v2.format(name="clpbackup-p-local-daily", status="Ready"): False,
        v2.format(name="clpbackup-p-local-daily", status="実行中"): True,
        '"FS-01","At3","23:00:00, 1/15/2024","Running","Interactive/Background"': True,  # 2003: no \\
        v2.format(name="clpbackup-p-shared-daily", status="Running"): False,
        v2.format(name="clpbackup-p-local-daily-x", status="Running"): False,
    }
    header = '"HostName","TaskName","Next Run Time","Status","Logon Mode"\r\n'
    for row, running in rows.items():
        assert (re.search(pattern, header + row + "\r\n") is not None) is running, row
    assert nodestate.running_guard(query, []) is None


def test_a_running_task_is_neither_replaced_nor_deleted_live1(plan2012: Plan) -> None:
    node = plan2012.home_node
    art = plan2012.render()[node.name]
    tasks = deployed_tasks(plan2012, node.name)
    tasks[0] = task(tasks[0].name, tasks[0].task_to_run or "", "09:09", state="running")
    old = r'cmd /c "C:\clpbackup\old-job.bat"'
    tasks.append(task("clpbackup-prod-db-old-job", old, "02:00", state="running"))
    state = nodestate.NodeState(tasks=tasks, record=recorded(tasks=tasks))
    diff = nodestate.schedule_changes(plan2012, node, art, state)
    actions = {c.name: c.action for c in diff.changes}
    assert actions[tasks[0].name] == "held" and actions["clpbackup-prod-db-old-job"] == "held"
    assert diff.commands == [] and diff.held == [tasks[0].name, "clpbackup-prod-db-old-job"]
    kept = {json.loads(x.text)["name"] for x in diff.record}
    assert {tasks[0].name, "clpbackup-prod-db-old-job"} <= kept  # still clpbackup's: the next deploy
    assert all("LIVE-1" in (c.after or "") for c in diff.changes if c.action == "held")


def test_a_running_at_job_is_not_replaced_and_its_successor_waits_live1(plan2008: Plan) -> None:
    node = plan2008.home_node
    art = plan2008.render()[node.name]
    jobs = at_jobs_for(plan2008, node.name)
    moved = AtJob(job_id=1, status=None, schedule=jobs[0].schedule, kind="each", days=jobs[0].days,
                  time="09:09", command=jobs[0].command)
    state = nodestate.NodeState(
        tasks=[task("At1", jobs[0].command, "09:09", state="running")],
        at_jobs=[moved, *jobs[1:]],
        record=recorded(at_jobs=[moved, *jobs[1:]]),
    )
    diff = nodestate.schedule_changes(plan2008, node, art, state)
    assert diff.commands == [] and diff.held == ["At1"]
    assert [c.action for c in diff.changes].count("held") == 2  # the old AT job and its successor
    idle = nodestate.NodeState(
        tasks=[task("At1", jobs[0].command, "09:09")], at_jobs=[moved, *jobs[1:]], record=state.record
    )
    assert [c.argv[0] for c in nodestate.schedule_changes(plan2008, node, art, idle).commands] == ["at", "at"]
