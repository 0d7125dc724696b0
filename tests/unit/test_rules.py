"""Rule checks: each rule fires on a plan that breaks it, and not on the examples."""

from __future__ import annotations

import copy
import importlib.machinery
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clpbackup.errors import PlanError, QuotingError, UnsupportedError
from clpbackup.plan import Plan
from clpbackup.rules import (
    SCH2_MARGIN_MINUTES,
    Finding,
    check,
    earliest_standby_start,
    raise_for_errors,
    scheduler_for,
    standby_start,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "plans").glob("*.yaml"))

WSB_BASE: dict[str, Any] = {
    "cluster": {"name": "prod-db", "failover_group": "failover1", "switchover_volumes": ["E:"]},
    "nodes": [
        {"name": "node-a", "host": "192.0.2.11", "os": "2012", "home": True},
        {"name": "node-b", "host": "192.0.2.12", "os": "2012"},
    ],
    "connection": {"username": "EXAMPLE\\backup", "password": {"env": "CLPBACKUP_PASSWORD"}},
    "jobs": {
        "local-daily": {
            "scope": "local",
            "include": ["C:\\data"],
            "target": "\\\\nas01\\backup\\{node}",
            "daily_at": "01:00",
            "expected_duration": "2h",
        },
        "shared-daily": {
            "scope": "switchover",
            "include": ["E:"],
            "target": "\\\\nas01\\backup\\{node}-shared",
            "daily_at": "03:00",
            "expected_duration": "1h",
        },
    },
    "failover_backup": {"job": "shared-daily", "at": "06:00"},
}

NT_BASE: dict[str, Any] = {
    "cluster": {"name": "fileserv", "failover_group": "failover1", "switchover_volumes": ["E:"]},
    "nodes": [
        {"name": "fs-01", "host": "10.0.0.21", "os": "2003", "home": True},
        {"name": "fs-02", "host": "10.0.0.22", "os": "2003"},
    ],
    "jobs": {
        "local-daily": {
            "scope": "local",
            "include": ["C:\\data"],
            "daily_at": "23:00",
            "expected_duration": "2h",
            "ntbackup": {"file": "D:\\ntbackup\\local.bkf"},
        },
        "shared-daily": {
            "scope": "switchover",
            "include": ["E:\\"],
            "daily_at": "01:00",
            "expected_duration": "1h",
            "ntbackup": {"media_pool": "4mm DDS", "library": "HP DAT72"},
        },
    },
    "failover_backup": {"job": "shared-daily", "at": "04:00"},
}

Mutator = Callable[[dict[str, Any]], None]


def make(change: Mutator | None = None, base: dict[str, Any] = WSB_BASE) -> Plan:
    data = copy.deepcopy(base)
    if change is not None:
        change(data)
    return Plan.from_dict(data)


def find(findings: list[Finding], rule: str, severity: str | None = None) -> list[Finding]:
    return [f for f in findings if f.rule == rule and (severity is None or f.severity == severity)]


def problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity != "info"]


def fires(change: Mutator, rule: str, severity: str, base: dict[str, Any] = WSB_BASE) -> list[Finding]:
    """The plan changed by ``change`` gets a ``rule`` finding of ``severity``; the base does not."""
    assert not find(check(make(base=base)), rule, severity), f"{rule} already fires on the base plan"
    got = find(check(make(change, base)), rule, severity)
    assert got, f"{rule} {severity} did not fire"
    return got


def test_base_plans_are_clean() -> None:
    for base in (WSB_BASE, NT_BASE):
        assert problems(check(make(base=base))) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_have_no_error_and_no_warning(path: Path) -> None:
    findings = check(Plan.from_file(path))
    assert problems(findings) == [], [str(f) for f in problems(findings)]


# -- JOB-2 ----------------------------------------------------------------------------------------


def test_job2_mixing_local_and_switchover_in_one_job() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["include"] = ["C:\\data", "E:\\db"]

    (f,) = fires(change, "JOB-2", "error")
    assert f.job == "local-daily" and "mixes" in f.message and "E:\\db" in f.message
    assert "split" in f.hint


def test_job2_local_job_including_a_switchover_volume() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["include"] = ["e:\\share"]

    # the finding points at the item on the switchover volume (its line in the plan file), found by
    # the long plan fuzz: it named jobs.<job>.scope, which the plan's author had not written wrong
    (f,) = fires(change, "JOB-2", "error")
    assert f.field == "jobs.local-daily.include[0]" and "scope: switchover" in f.hint


def test_job2_switchover_job_including_no_switchover_volume() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["shared-daily"]["include"] = ["D:\\"]

    (f,) = fires(change, "JOB-2", "error")
    assert f.job == "shared-daily" and "no switchover volume" in f.message


def test_job2_switchover_volume_without_a_job_is_a_warning() -> None:
    def change(d: dict[str, Any]) -> None:
        d["cluster"]["switchover_volumes"] = ["E:", "F:"]

    (f,) = fires(change, "JOB-2", "warning")
    assert "F:" in f.message


# -- JOB-4 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("selection", ["*", "ALL", "\\", "everything", "My Computer", "*:\\"])
def test_job4_everything_selections_are_refused(selection: str) -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["include"] = ["C:\\data", selection]

    (f,) = fires(change, "JOB-4", "error")
    assert f.field == "jobs.local-daily.include[1]"
    assert "0x8004230c" in f.message and "one by one" in f.hint


@pytest.mark.parametrize("item", ["data", "\\\\fs\\share\\x"])
def test_job4_items_without_a_drive_letter(item: str) -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["include"] = [item]

    (f,) = fires(change, "JOB-4", "error")
    assert f.field == "jobs.local-daily.include[0]"


def test_job4_systemstate_only_ntbackup_job_is_explained() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["include"] = ["systemstate"]

    findings = check(make(change, NT_BASE))
    assert problems(findings) == []
    (f,) = find(findings, "JOB-4", "info")
    assert "only the system state" in f.message and "CAU-1" in f.message


def test_nt2_systemstate_needs_type_normal_or_copy() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["include"] = ["C:\\data", "SystemState"]
        d["jobs"]["local-daily"]["ntbackup"]["type"] = "incremental"

    (f,) = fires(change, "NT-2", "error", NT_BASE)
    assert f.field == "jobs.local-daily.ntbackup.type"


def test_systemstate_in_a_switchover_job_is_a_job2_error() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["shared-daily"]["include"] = ["E:\\", "systemstate"]

    fires(change, "JOB-2", "error", NT_BASE)


# -- WSB ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["all_critical", "system_state"])
def test_wsb1_system_recovery_is_refused(flag: str) -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"][flag] = True

    (f,) = fires(change, "WSB-1", "error")
    assert f.field == f"jobs.local-daily.{flag}"


def test_wsb1_systemstate_in_a_wsb_include() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["include"] = ["C:\\data", "systemstate"]

    fires(change, "WSB-1", "error")


@pytest.mark.parametrize("target", ["E:", "e:\\"])
def test_wsb2_switchover_volume_as_target(target: str) -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["target"] = target

    (f,) = fires(change, "WSB-2", "error")
    assert f.job == "local-daily" and f.field == "jobs.local-daily.target"


def test_wsb2_bkf_file_on_the_switchover_partition() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["ntbackup"]["file"] = "E:\\backup\\local.bkf"

    (f,) = fires(change, "WSB-2", "error", NT_BASE)
    assert f.field == "jobs.local-daily.ntbackup.file"


def test_wsb3_local_volume_target_is_a_warning() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["shared-daily"]["target"] = "G:"

    (f,) = fires(change, "WSB-3", "warning")
    assert "cannot be restored on the other node" in f.message


def test_wsb3_share_without_node_folder_is_an_error() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["target"] = "\\\\nas01\\backup\\"

    (f,) = fires(change, "WSB-3", "error")
    assert "{node}" in f.hint and f.field == "jobs.local-daily.target"


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        (None, "no target"),
        ("G:\\backups", "neither a volume"),
        ("C:", "also backed up"),
        ("\\\\nas01\\backup\\{host}", "{host}"),
    ],
)
def test_wsb4_targets_wbadmin_refuses(target: str | None, needle: str) -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["target"] = target

    (f,) = fires(change, "WSB-4", "error")
    assert needle in f.message


# -- NT-3 -----------------------------------------------------------------------------------------


def _share(medium: dict[str, Any]) -> Mutator:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["ntbackup"] = dict(medium)
        d["jobs"]["shared-daily"]["ntbackup"] = dict(medium)

    return change


def test_nt3_shared_media_pool_cannot_append() -> None:
    (f,) = fires(_share({"media_pool": "4mm DDS"}), "NT-3", "error", NT_BASE)
    assert f.job == "shared-daily" and "/P" in f.message


def test_nt3_shared_tape_appends() -> None:
    def change(d: dict[str, Any]) -> None:
        _share({"tape": "CLP-1"})(d)
        d["jobs"]["local-daily"]["ntbackup"]["append"] = True

    findings = check(make(change, NT_BASE))
    assert not find(findings, "NT-3", "error") and not find(findings, "NT-3", "warning")
    (f,) = find(findings, "NT-3", "info")
    assert "/A" in f.message


def test_nt3_failover_append_false_is_an_error() -> None:
    def change(d: dict[str, Any]) -> None:
        _share({"tape": "CLP-1"})(d)
        d["jobs"]["local-daily"]["ntbackup"]["append"] = True
        d["failover_backup"]["append"] = False

    (f,) = fires(change, "NT-3", "error", NT_BASE)
    assert f.field == "failover_backup.append"


def test_nt3_shared_bkf_file_cannot_be_appended_to() -> None:
    (f,) = fires(_share({"file": "D:\\bk\\all.bkf"}), "NT-3", "warning", NT_BASE)
    assert f.job == "shared-daily" and f.field == "jobs.shared-daily.ntbackup.file"
    assert "/A" in f.message


def test_nt3_daily_jobs_on_one_tape_must_append() -> None:
    (f,) = fires(_share({"tape": "CLP-1"}), "NT-3", "warning", NT_BASE)
    # local-daily starts at 23:00, shared-daily at 01:00: the later one by clock time must append
    assert f.field is not None and f.field.endswith("ntbackup.append")


# -- SCH-2 ----------------------------------------------------------------------------------------


def test_standby_start_is_home_start_plus_duration_plus_margin() -> None:
    plan = make()
    assert SCH2_MARGIN_MINUTES == 15
    assert earliest_standby_start(plan, "shared-daily") == "04:15"
    assert standby_start(plan, "shared-daily") == "04:15"
    assert standby_start(plan, "local-daily") == "01:00"  # local jobs: same time (SCH-1)


def test_standby_start_wraps_midnight_and_honours_a_pin() -> None:
    def late(d: dict[str, Any]) -> None:
        d["jobs"]["shared-daily"]["daily_at"] = "23:30"
        d["jobs"]["shared-daily"]["expected_duration"] = "1h30m"

    assert standby_start(make(late), "shared-daily") == "01:15"

    def pinned(d: dict[str, Any]) -> None:
        d["jobs"]["shared-daily"]["standby_at"] = "05:00"

    plan = make(pinned)
    assert standby_start(plan, "shared-daily") == "05:00"
    assert earliest_standby_start(plan, "shared-daily") == "04:15"
    assert problems(check(plan)) == []


def test_standby_start_needs_daily_at_and_a_known_job() -> None:
    def no_daily(d: dict[str, Any]) -> None:
        del d["jobs"]["shared-daily"]["daily_at"]

    with pytest.raises(PlanError) as info:
        standby_start(make(no_daily), "shared-daily")
    assert info.value.field == "jobs.shared-daily.daily_at"
    with pytest.raises(PlanError, match="no job named"):
        standby_start(make(), "nope")


@pytest.mark.parametrize("pin", ["03:00", "03:30", "04:14"])
def test_sch2_pinned_standby_earlier_than_the_home_end_is_an_error(pin: str) -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["shared-daily"]["standby_at"] = pin

    (f,) = fires(change, "SCH-2", "error")
    assert f.node == "node-b" and f.job == "shared-daily" and "04:15" in f.hint


@pytest.mark.parametrize("pin", ["02:00", "17:00"])
def test_sch2_pinned_standby_before_the_home_start_is_a_warning(pin: str) -> None:
    # 02:00 is 21 h 45 min after the earliest start 04:15: it reads as "before the home run"
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["shared-daily"]["standby_at"] = pin

    (f,) = fires(change, "SCH-2", "warning")
    assert "before the home node's run" in f.message and "04:15" in f.hint


def test_sch2_pin_after_midnight_is_fine() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["shared-daily"]["daily_at"] = "23:00"
        d["jobs"]["shared-daily"]["standby_at"] = "00:30"  # earliest 00:15 the next day
        d["failover_backup"]["at"] = "06:00"

    assert not find(check(make(change)), "SCH-2")


def test_sch2_wrong_uses_of_standby_at() -> None:
    def local(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["standby_at"] = "05:00"

    (f,) = fires(local, "SCH-2", "warning")
    assert f.job == "local-daily"

    def without_daily(d: dict[str, Any]) -> None:
        del d["jobs"]["shared-daily"]["daily_at"]
        d["jobs"]["shared-daily"]["standby_at"] = "05:00"

    fires(without_daily, "SCH-2", "error")


def test_sch2_a_job_too_long_to_run_twice_a_day() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["shared-daily"]["expected_duration"] = "12h"
        d["failover_backup"]["at"] = "now"

    fires(change, "SCH-2", "warning")


# -- SCH-3 ----------------------------------------------------------------------------------------


def _failover_at(at: str) -> Mutator:
    def change(d: dict[str, Any]) -> None:
        d["failover_backup"]["at"] = at

    return change


def test_sch3_failover_backup_overlapping_the_home_window() -> None:
    got = fires(_failover_at("03:10"), "SCH-3", "error")  # 03:10-04:10; node-b starts at 04:15
    assert {(f.node, f.job) for f in got} == {("node-a", "shared-daily")}
    assert got[0].field == "failover_backup.at"


def test_sch3_overlap_with_the_standby_offset_window() -> None:
    got = fires(_failover_at("04:30"), "SCH-3", "error")  # node-b runs shared-daily 04:15-05:15
    assert {(f.node, f.job) for f in got} == {("node-b", "shared-daily")}


def test_sch3_counts_the_failover_runs_own_duration() -> None:
    # 00:30 + 1h reaches into local-daily (01:00-03:00) on both nodes
    got = fires(_failover_at("00:30"), "SCH-3", "error")
    assert {(f.node, f.job) for f in got} == {("node-a", "local-daily"), ("node-b", "local-daily")}


@pytest.mark.parametrize("at", ["00:00", "05:15", "now", "12:00"])
def test_sch3_no_overlap(at: str) -> None:
    assert not find(check(make(_failover_at(at))), "SCH-3")


# -- SCH-4, OS -----------------------------------------------------------------------------------


def _os(version: str, *which: int) -> Mutator:
    def change(d: dict[str, Any]) -> None:
        for i in which or (0, 1):
            d["nodes"][i]["os"] = version

    return change


def test_sch4_at_needs_the_schedule_service() -> None:
    plan = make(_os("2008R2"))
    assert [scheduler_for(plan, n) for n in plan.nodes] == ["at", "at"]
    (f,) = find(check(plan), "SCH-4", "info")
    assert "Schedule" in f.message
    assert not find(check(make()), "SCH-4")
    assert scheduler_for(make(), make().nodes[0]) == "schtasks"


def test_os1_ntbackup_block_on_2012() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["ntbackup"] = {"file": "D:\\x.bkf"}

    (f,) = fires(change, "OS-1", "error")
    assert f.node is None and f.job == "local-daily"  # both nodes


def test_os1_wsb_job_on_2003() -> None:
    def change(d: dict[str, Any]) -> None:
        del d["jobs"]["local-daily"]["ntbackup"]

    (f,) = fires(change, "OS-1", "error", NT_BASE)
    assert "wbadmin" in f.message and "ntbackup block" in f.hint


def test_os1_mixed_pair_names_the_node_and_os2_warns() -> None:
    findings = check(make(_os("2003", 1)))
    os1 = find(findings, "OS-1", "error")
    assert {f.node for f in os1} == {"node-b"}
    (os2,) = find(findings, "OS-2", "warning")
    assert "node-a" in os2.message and "node-b" in os2.message


def test_os1_at_on_2012_is_a_warning() -> None:
    def change(d: dict[str, Any]) -> None:
        d["scheduler"] = "at"

    got = fires(change, "OS-1", "warning")
    assert {f.node for f in got} == {"node-a", "node-b"}
    assert all("deprecated" in f.message for f in got)


@pytest.mark.parametrize("os", ["2016", "2019", "2022"])
def test_os1_at_on_2016_and_later_is_refused(os: str) -> None:
    def change(d: dict[str, Any]) -> None:
        d["scheduler"] = "at"
        for n in d["nodes"]:
            n["os"] = os

    plan = make(change)
    got = find(check(plan), "OS-1", "error")
    assert {f.node for f in got} == {"node-a", "node-b"}
    assert all(f"AT creates no jobs on Windows Server {os}" in f.message for f in got)
    assert all(f.field == "scheduler" for f in got)
    # scheduler: auto is schtasks there, and nothing is reported
    plan = make(lambda d: [n.__setitem__("os", os) for n in d["nodes"]])
    assert problems(check(plan)) == []
    assert scheduler_for(plan, plan.nodes[0]) == "schtasks"


def test_os1_at_on_2012r2_is_a_warning() -> None:
    def change(d: dict[str, Any]) -> None:
        d["scheduler"] = "at"
        for n in d["nodes"]:
            n["os"] = "2012R2"

    got = fires(change, "OS-1", "warning")
    assert all("AT is deprecated on Windows Server 2012 R2" in f.message for f in got)


def test_schtasks_forced_on_2003_is_fine_but_not_for_a_one_shot_at_a_time_fo2() -> None:
    def change(d: dict[str, Any]) -> None:
        d["scheduler"] = "schtasks"
        d["failover_backup"]["at"] = "now"

    plan = make(change, NT_BASE)
    assert problems(check(plan)) == []
    assert scheduler_for(plan, plan.nodes[0]) == "schtasks"

    def at_a_time(d: dict[str, Any]) -> None:
        d["scheduler"] = "schtasks"

    found = problems(check(make(at_a_time, NT_BASE)))
    assert [f.severity for f in found] == ["error"] and "FO-2" in found[0].message
    assert "scheduler: at" in found[0].hint


def test_os1_2008_rtm_backs_up_whole_volumes_only() -> None:
    got = fires(_os("2008"), "OS-1", "error")
    assert {f.field for f in got} == {"jobs.local-daily.include"}

    def volumes(d: dict[str, Any]) -> None:
        _os("2008")(d)
        d["jobs"]["local-daily"]["include"] = ["D:"]

    assert problems(check(make(volumes))) == []


@pytest.mark.parametrize(
    ("version", "command"),
    [
        ("2008", "ServerManagerCmd -install Backup-Features"),
        ("2008R2", "Add-WindowsFeature Backup-Features"),
        ("2012", "Install-WindowsFeature Windows-Server-Backup"),
    ],
)
def test_os3_tells_how_to_install_wsb(version: str, command: str) -> None:
    def change(d: dict[str, Any]) -> None:
        _os(version)(d)
        d["jobs"]["local-daily"]["include"] = ["D:"]

    got = find(check(make(change)), "OS-3", "info")
    assert {f.node for f in got} == {"node-a", "node-b"}
    assert all(command in f.hint for f in got)
    assert not find(check(make(base=NT_BASE)), "OS-3")


# -- SEC-1 ----------------------------------------------------------------------------------------


def test_sec1_basic_without_ssl_is_a_warning() -> None:
    def change(d: dict[str, Any]) -> None:
        d["connection"]["auth"] = "basic"

    got = fires(change, "SEC-1", "warning")
    assert {f.node for f in got} == {"node-a", "node-b"}

    def with_ssl(d: dict[str, Any]) -> None:
        d["connection"].update(auth="basic", ssl=True)

    assert not find(check(make(with_ssl)), "SEC-1")

    def one_node(d: dict[str, Any]) -> None:
        d["nodes"][1]["connection"] = {"auth": "basic"}

    (f,) = find(check(make(one_node)), "SEC-1", "warning")
    assert f.node == "node-b" and f.field == "nodes[1].connection.auth"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("target", "\\\\nas01\\backup\\{node} -password:Pa55word"),
        ("target", "\\\\nas01\\backup\\{node} /RP Pa55word"),
        ("include", ["C:\\data password=Pa55word"]),
    ],
)
def test_sec1_password_switch_in_a_value_is_an_error(field: str, value: Any) -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"][field] = value

    (f,) = fires(change, "SEC-1", "error")
    assert f.job == "local-daily" and f.field is not None and f.field.startswith(f"jobs.local-daily.{field}")
    assert "Pa55word" not in str(f) and "Pa55word" not in repr(f)


@pytest.mark.parametrize("value", ["C:\\programs", "C:\\passwords-app\\config", "D:\\app\\pwd"])
def test_sec1_does_not_fire_on_ordinary_paths(value: str) -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["include"] = [value]

    assert not find(check(make(change)), "SEC-1")


# -- QUOTE ----------------------------------------------------------------------------------------


def test_quote_newline_in_a_value() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["include"] = ["C:\\data\nrem x"]

    (f,) = fires(change, "QUOTE", "error")
    assert f.field == "jobs.local-daily.include[0]" and f.job == "local-daily"
    assert "LINE FEED" in f.message


def test_quote_character_outside_the_code_page() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["include"] = ["C:\\業務データ"]

    (f,) = fires(change, "QUOTE", "error")  # default code page 437
    assert "437" in f.message and f.field == "jobs.local-daily.include[0]"

    def cp932(d: dict[str, Any]) -> None:
        change(d)
        d["connection"]["codepage"] = 932

    assert not find(check(make(cp932)), "QUOTE")

    def one_node_932(d: dict[str, Any]) -> None:
        change(d)
        d["nodes"][0]["connection"] = {"codepage": 932}

    (g,) = find(check(make(one_node_932)), "QUOTE")
    assert g.node == "node-b"


def test_quote_ntbackup_selection_is_utf16_so_any_character_is_fine() -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["local-daily"]["include"] = ["C:\\業務データ"]

    assert not find(check(make(change, NT_BASE)), "QUOTE")


def _fake_render(
    monkeypatch: pytest.MonkeyPatch, exc: Exception, only: str | None = None
) -> list[str]:
    """Replace clpbackup.render with one that raises ``exc`` (for node ``only``, or every node)."""
    calls: list[str] = []

    def render_plan(plan: Plan, node: str | None = None) -> dict[str, Any]:
        calls.append(str(node))
        if only is None or node == only:
            raise exc
        return {}

    mod = types.ModuleType("clpbackup.render")
    mod.__spec__ = importlib.machinery.ModuleSpec("clpbackup.render", None)
    mod.render_plan = render_plan  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "clpbackup.render", mod)
    return calls


def test_quote_error_from_render_becomes_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_render(
        monkeypatch, QuotingError("the value contains '!'", field="scripts_dir", hint="rename it")
    )
    findings = check(make())
    assert calls == ["node-a", "node-b"]  # each node rendered on its own
    got = find(findings, "QUOTE", "error")
    # refused on both nodes: one finding about the plan, the field prefix not repeated in the message
    assert [(f.node, f.field, f.message, f.hint) for f in got] == [
        (None, "scripts_dir", "the value contains '!'", "rename it")
    ]


def test_quote_error_on_one_node_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_render(monkeypatch, QuotingError("bad", field="jobs.local-daily.target"), only="node-b")
    (f,) = find(check(make()), "QUOTE", "error")
    assert (f.node, f.job) == ("node-b", "local-daily")


def test_other_render_refusal_is_reported_when_no_rule_explains_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_render(monkeypatch, UnsupportedError("cannot render that"))
    got = find(check(make()), "RENDER", "error")
    assert [(f.node, f.message) for f in got] == [(None, "cannot render that")]
    # ... and left out when a rule already explains why the plan cannot be rendered
    assert not find(check(make(_os("2003"))), "RENDER")


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("scripts_dir", "C:\\clp&backup", "&"),
        ("scripts_dir", "C:\\100%", "%"),
        ("jobs.local-daily.include", ["C:\\a,b"], "comma"),
    ],
)
def test_quote_refusals_of_the_real_renderer(field: str, value: Any, needle: str) -> None:
    def change(d: dict[str, Any]) -> None:
        *parents, last = field.split(".")
        target = d
        for key in parents:
            target = target[key]
        target[last] = value

    (f,) = fires(change, "QUOTE", "error")
    assert f.field == field and f.node is None and needle in f.message
    assert not f.message.startswith(field)


# -- FO, JOB-3/5, CAU ----------------------------------------------------------------------------


def test_fo2_missing_failover_backup_is_a_warning() -> None:
    def change(d: dict[str, Any]) -> None:
        del d["failover_backup"]

    (f,) = fires(change, "FO-2", "warning")
    assert "failover_backup: {job: shared-daily" in f.hint


def test_fo1_explains_the_start_script() -> None:
    (f,) = find(check(make()), "FO-1", "info")
    assert "START" in f.message and "paste" in f.message

    def managed(d: dict[str, Any]) -> None:
        d["cluster"]["start_script"] = "C:\\CLUSTERPRO\\scripts\\failover1\\script\\start.bat"

    (g,) = find(check(make(managed)), "FO-1", "info")
    assert "start.bat" in g.message


def test_explanations_are_info() -> None:
    findings = check(make())
    for rule in ("JOB-3", "JOB-5", "CAU-1", "CAU-2", "CAU-3", "FO-2"):
        assert find(findings, rule, "info"), rule
    (job3,) = find(findings, "JOB-3")
    assert job3.job == "shared-daily" and "expected" in job3.message


# -- order, raise_for_errors, Finding ------------------------------------------------------------


def _broken(d: dict[str, Any]) -> None:
    d["jobs"]["local-daily"]["target"] = "E:"  # WSB-2
    d["jobs"]["shared-daily"]["target"] = "G:"  # WSB-3 warning
    d["failover_backup"]["at"] = "03:30"  # SCH-3


def test_errors_come_first_and_the_order_is_stable() -> None:
    plan = make(_broken)
    findings = check(plan)
    ranks = [("error", "warning", "info").index(f.severity) for f in findings]
    assert ranks == sorted(ranks)
    assert findings == check(make(_broken))
    assert {f.rule for f in findings if f.severity == "error"} == {"WSB-2", "SCH-3"}


def test_raise_for_errors() -> None:
    findings = check(make(_broken))
    with pytest.raises(PlanError) as info:
        raise_for_errors(findings)
    err = info.value
    assert "WSB-2" in str(err) and "SCH-3" in str(err)
    assert err.findings[0].severity == "error"
    assert len(err.findings) == len(findings)
    raise_for_errors(check(make()))  # no error: no exception
    with pytest.raises(PlanError, match="WSB-2"):
        make(_broken).check()
    assert make().check() == make()


def test_finding_json_and_text() -> None:
    f = Finding(
        "WSB-3", "warning", "node-a", "local", "the target is local", "use a share", "jobs.local.target"
    )
    assert f.to_json() == {
        "rule": "WSB-3",
        "severity": "warning",
        "node": "node-a",
        "job": "local",
        "field": "jobs.local.target",
        "message": "the target is local",
        "hint": "use a share",
    }
    assert str(f) == "WSB-3 warning (node node-a, job local): the target is local — use a share"
    assert str(Finding("CAU-2", "info", None, None, "rehearse")) == "CAU-2 info: rehearse"


def test_nt2_two_ntbackup_jobs_with_one_description_are_refused() -> None:
    from clpbackup.rules import check

    data = {
        "cluster": {"name": "c", "failover_group": "g", "switchover_volumes": ["E:"]},
        "nodes": [
            {"name": "a", "host": "h1", "os": "2003", "home": True},
            {"name": "b", "host": "h2", "os": "2003"},
        ],
        "connection": {"username": "u", "password": {"env": "X_PW"}},
        "jobs": {
            "one": {"scope": "local", "include": ["C:\\data\\"],
                    "ntbackup": {"file": "D:\\1.bkf", "description": "d"}},
            "two": {"scope": "local", "include": ["C:\\etc\\"],
                    "ntbackup": {"file": "D:\\2.bkf", "description": "d"}},
        },
    }
    found = [f for f in check(Plan.from_dict(data)) if f.rule == "NT-2" and f.severity == "error"]
    assert found and found[0].field == "jobs.two.ntbackup.description"
    data["jobs"]["two"]["ntbackup"].pop("description")  # type: ignore[index]
    assert not [f for f in check(Plan.from_dict(data)) if f.rule == "NT-2" and f.severity == "error"]
