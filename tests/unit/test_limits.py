"""Windows limits checked before anything is written (issue #10): ASCII-only times, full-match
names (a trailing newline is not a name), cmd.exe's 8191-character line (KB 830473) and MAX_PATH."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from clpbackup.errors import PlanError
from clpbackup.plan import Plan, parse_duration, parse_hhmm
from tests.unit.test_plan import plan_dict


def _refused(data: dict[str, Any]) -> PlanError:
    with pytest.raises(PlanError) as info:
        Plan.from_dict(data)
    return info.value


# -- times: ASCII digits only --------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0１:0０", "0٣:00", "01:0٣", "１２:００", "01:00\n"])
def test_parse_hhmm_takes_ascii_digits_only(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(text)


@pytest.mark.parametrize("value", ["２h", "٩0", "1h3٠m", "2h\n"])
def test_parse_duration_takes_ascii_digits_only(value: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(
    ("where", "field"),
    [
        (("jobs", "local-daily", "daily_at"), "jobs.local-daily.daily_at"),
        (("jobs", "shared-daily", "standby_at"), "jobs.shared-daily.standby_at"),
        (("failover_backup", "at"), "failover_backup.at"),
    ],
)
@pytest.mark.parametrize("value", ["0１:0０", "0٣:00"])
def test_a_time_with_non_ascii_digits_is_refused_naming_its_field(
    where: tuple[str, ...], field: str, value: str
) -> None:
    data = plan_dict()
    target: Any = data
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    assert _refused(data).field == field


# -- names: a full match, the trailing newline included -------------------------------------------


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("nodes", 0, "name"), "node-a\n", "nodes[0].name"),
        (("nodes", 1, "host"), "192.0.2.12\n", "nodes[1].host"),
        (("cluster", "name"), "prod-db\n", "cluster.name"),
        (("cluster", "failover_group"), "failover1\n", "cluster.failover_group"),
        (("cluster", "switchover_volumes"), ["E:\n"], "cluster.switchover_volumes"),
        (("connection", "password"), {"env": "CLPBACKUP_PASSWORD\n"}, "connection.password"),
        (("scripts_dir",), "C:\\clpbackup\n", "scripts_dir"),
    ],
)
def test_a_trailing_newline_is_refused_naming_its_own_field(
    path: tuple[Any, ...], value: Any, field: str
) -> None:
    err = _refused(_set(plan_dict(), path, value))
    assert err.field == field, err


def test_a_job_name_with_a_trailing_newline_is_refused_naming_jobs() -> None:
    data = plan_dict()
    data["jobs"]["local-daily\n"] = data["jobs"].pop("local-daily")
    err = _refused(data)
    assert err.field == "jobs"
    assert "local-daily\\n" in str(err)


# -- cmd.exe's line (KB 830473) and MAX_PATH ------------------------------------------------------


def _long_includes(count: int = 40) -> list[str]:
    return [f"C:\\data\\{i:02d}-" + "x" * 250 for i in range(count)]


def test_a_batch_line_over_8191_characters_is_refused_naming_the_limit() -> None:
    data = plan_dict()
    data["jobs"]["local-daily"]["include"] = _long_includes()
    plan = Plan.from_dict(data)
    errors = [f for f in plan.findings() if f.severity == "error"]
    assert errors, "a 10,000-character batch line was accepted"
    assert any(
        "8191" in f.message and f.field and f.field.startswith("jobs.local-daily") for f in errors
    ), errors
    with pytest.raises(PlanError, match="8191"):
        plan.check()


def test_a_batch_line_just_under_the_limit_is_accepted() -> None:
    data = plan_dict()
    data["jobs"]["local-daily"]["include"] = _long_includes(20)
    assert not [f for f in Plan.from_dict(data).findings() if f.severity == "error"]


@pytest.mark.parametrize("os_version", ["2008R2", "2003"])
def test_a_scripts_dir_past_max_path_is_refused_at_load(os_version: str) -> None:
    data = plan_dict()
    for n in data["nodes"]:
        n["os"] = os_version
    data["scripts_dir"] = "C:\\" + "\\".join(["d" * 50] * 5)  # 258 characters
    err = _refused(data)
    assert err.field == "scripts_dir" and "MAX_PATH" in str(err), err


def test_a_file_path_past_max_path_is_refused_naming_scripts_dir() -> None:
    data = plan_dict()
    for n in data["nodes"]:
        n["os"] = "2008R2"
    data["scripts_dir"] = "C:\\" + "\\".join(["d" * 50] * 4)  # 206: the folder fits, the files do not
    data["jobs"]["local-daily-with-a-long-name-0123456789"] = data["jobs"].pop("local-daily")
    plan = Plan.from_dict(data)
    errors = [f for f in plan.findings() if f.severity == "error"]
    assert any(f.field == "scripts_dir" and "MAX_PATH" in f.message for f in errors), errors
