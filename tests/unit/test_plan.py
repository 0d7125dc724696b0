"""Loading and validating plans: YAML / JSON / dict, field paths and lines in errors, SEC-1."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from clpbackup.errors import PlanError
from clpbackup.plan import (
    Plan,
    format_hhmm,
    normalize_volume,
    parse_duration,
    parse_hhmm,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "plans").glob("*.yaml"))

PLAN_YAML = r"""cluster:
  name: prod-db
  failover_group: failover1
  switchover_volumes: ["e:\\"]
nodes:
  - name: node-a
    host: 192.0.2.11
    os: "2012"
    home: true
  - name: node-b
    host: 192.0.2.12
    os: 2012 R2
connection:
  username: EXAMPLE\backup-admin
  password: {env: CLPBACKUP_PASSWORD}
  codepage: 932
jobs:
  local-daily:
    scope: local
    include: ['C:\data']
    target: '\\nas01\backup\{node}'
    daily_at: "01:00"
    expected_duration: 2h
  shared-daily:
    scope: switchover
    include: ["E:"]
    target: '\\nas01\backup\{node}-shared'
    daily_at: "03:00"
    expected_duration: 1h
failover_backup:
  job: shared-daily
  at: "06:00"
"""


def plan_dict() -> dict[str, Any]:
    data = yaml.safe_load(PLAN_YAML)
    assert isinstance(data, dict)
    return data


def load_error(text: str) -> PlanError:
    with pytest.raises(PlanError) as info:
        Plan.from_yaml(text)
    return info.value


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


# -- loading --------------------------------------------------------------------------------------


def test_yaml_json_and_dict_give_the_same_plan(tmp_path: Path) -> None:
    from_yaml = Plan.from_yaml(PLAN_YAML)
    from_dict = Plan.from_dict(plan_dict())
    from_json = Plan.from_json(json.dumps(plan_dict()))
    assert from_yaml == from_dict == from_json

    (tmp_path / "p.yaml").write_text(PLAN_YAML, encoding="utf-8")
    (tmp_path / "p.json").write_text(json.dumps(plan_dict()), encoding="utf-8")
    assert Plan.from_file(tmp_path / "p.yaml") == from_yaml
    assert Plan.from_file(str(tmp_path / "p.json")) == from_yaml


def test_values_are_normalized() -> None:
    plan = Plan.from_yaml(PLAN_YAML)
    assert plan.cluster.switchover_volumes == ["E:"]
    assert plan.node("node-b").os == "2012R2"  # "2012 R2" is spelled as the platforms spell it
    assert plan.home_node.name == "node-a"
    assert plan.standby_node.name == "node-b"
    assert plan.node("NODE-B") is plan.nodes[1]
    assert plan.codepage_for("node-a") == 932
    assert plan.switchover_jobs() == ["shared-daily"]
    assert plan.jobs["local-daily"].duration_minutes == 120


def test_a_node_connection_overrides_the_defaults() -> None:
    data = plan_dict()
    data["nodes"][1]["connection"] = {"port": 15985, "codepage": 437}
    plan = Plan.from_dict(data)
    assert plan.connection_for("node-b").port == 15985
    assert plan.codepage_for("node-b") == 437
    assert plan.codepage_for("node-a") == 932
    assert plan.connection_for("node-b").username == "EXAMPLE\\backup-admin"


def test_unknown_node_is_a_plan_error_naming_the_nodes() -> None:
    plan = Plan.from_yaml(PLAN_YAML)
    with pytest.raises(PlanError, match="node-a, node-b"):
        plan.node("node-c")


# -- errors name the field and the line -------------------------------------------------------------


def test_a_bad_time_names_its_field_and_yaml_line() -> None:
    text = PLAN_YAML.replace('daily_at: "03:00"', 'daily_at: "25:00"')
    err = load_error(text)
    assert err.field == "jobs.shared-daily.daily_at"
    assert err.line == line_of(text, '"25:00"')
    assert "jobs.shared-daily.daily_at" in str(err) and f"line {err.line}" in str(err)
    assert "HH:MM" in str(err)


def test_a_bad_duration_names_its_field_and_line() -> None:
    text = PLAN_YAML.replace("expected_duration: 2h", "expected_duration: two hours")
    err = load_error(text)
    assert err.field == "jobs.local-daily.expected_duration"
    assert err.line == line_of(text, "two hours")


def test_an_unknown_key_is_named() -> None:
    text = PLAN_YAML.replace("    scope: local\n", "    scope: local\n    targte: x\n")
    err = load_error(text)
    assert err.field == "jobs.local-daily.targte"
    assert err.line == line_of(text, "targte")


def test_a_list_item_is_named_with_its_index() -> None:
    text = PLAN_YAML.replace("os: 2012 R2", "os: '2025'")
    err = load_error(text)
    assert err.field == "nodes[1].os"
    assert err.line == line_of(text, "'2025'")


def test_model_level_error_names_failover_backup_job_and_its_line() -> None:
    text = PLAN_YAML.replace("  job: shared-daily", "  job: no-such-job")
    err = load_error(text)
    assert err.field == "failover_backup.job"
    assert err.line == line_of(text, "no-such-job")
    assert "no job named 'no-such-job'" in str(err)
    assert "(top)" not in str(err)


def test_failover_backup_must_name_a_switchover_job() -> None:
    text = PLAN_YAML.replace("  job: shared-daily", "  job: local-daily")
    err = load_error(text)
    assert err.field == "failover_backup.job"
    assert "FO-2" in str(err)


def test_yaml_syntax_error_has_a_line() -> None:
    text = PLAN_YAML.replace("  failover_group: failover1", "  failover_group: [failover1")
    err = load_error(text)
    assert err.field == "(file)"
    assert err.line is not None and err.line >= line_of(text, "[failover1")
    assert "not valid YAML" in str(err)


def test_json_syntax_error_has_a_line() -> None:
    with pytest.raises(PlanError) as info:
        Plan.from_json('{\n "cluster": {\n  "name": "x",\n }\n}')
    assert info.value.line == 4
    assert "not valid JSON" in str(info.value)


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read the plan file"):
        Plan.from_file(tmp_path / "nope.yaml")
    with pytest.raises(PlanError, match="a plan is a mapping"):
        Plan.from_yaml("- just\n- a list\n")
    (tmp_path / "latin1.yaml").write_bytes("cluster: caf\xe9\n".encode("latin-1"))
    with pytest.raises(PlanError, match="not UTF-8"):
        Plan.from_file(tmp_path / "latin1.yaml")


def test_more_problems_are_counted() -> None:
    data = plan_dict()
    data["jobs"]["local-daily"]["daily_at"] = "1am"
    data["jobs"]["shared-daily"]["daily_at"] = "3am"
    with pytest.raises(PlanError, match=r"and 1 more problem"):
        Plan.from_dict(data)


# -- SEC-1 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["plan", "node"])
def test_a_clear_password_is_refused_and_never_echoed(where: str) -> None:
    data = plan_dict()
    if where == "plan":
        data["connection"]["password"] = "hunter2-Secret"
    else:
        data["nodes"][0]["connection"] = {"password": "hunter2-Secret"}
    with pytest.raises(PlanError) as info:
        Plan.from_dict(data)
    err = info.value
    assert "SEC-1" in str(err)
    assert err.field == ("connection.password" if where == "plan" else "nodes[0].connection.password")
    assert "hunter2" not in str(err) and "hunter2" not in repr(err)
    assert "{env: VARIABLE}" in str(err)


def test_password_reference_needs_exactly_one_source() -> None:
    data = plan_dict()
    data["connection"]["password"] = {"env": "A", "prompt": True}
    with pytest.raises(PlanError, match="exactly one of env, callback or prompt"):
        Plan.from_dict(data)
    data["connection"]["password"] = {"env": "not a name"}
    with pytest.raises(PlanError, match="not an environment variable name"):
        Plan.from_dict(data)


def test_password_from_environment_and_callback(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = Plan.from_yaml(PLAN_YAML)
    monkeypatch.delenv("CLPBACKUP_PASSWORD", raising=False)
    with pytest.raises(PlanError, match="CLPBACKUP_PASSWORD is not set"):
        plan.connection.resolve_password("node-a")
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "s3cret")
    secret = plan.connection.resolve_password("node-a")
    assert secret is not None and secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(plan) and "s3cret" not in repr(secret)

    data = plan_dict()
    data["connection"]["password"] = {"callback": lambda node: f"pw-{node}"}
    cb_plan = Plan.from_dict(data)
    got = cb_plan.connection_for("node-b").resolve_password("node-b")
    assert got is not None and got.get_secret_value() == "pw-node-b"


# -- two nodes, one home -------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 3])
def test_exactly_two_nodes(count: int) -> None:
    data = plan_dict()
    nodes = data["nodes"]
    if count == 1:
        data["nodes"] = nodes[:1]
    else:
        data["nodes"] = [*nodes, {"name": "node-c", "host": "192.0.2.13", "os": "2012"}]
    with pytest.raises(PlanError) as info:
        Plan.from_dict(data)
    assert info.value.field == "nodes"
    assert f"the plan lists {count}" in str(info.value)


@pytest.mark.parametrize("homes", [(False, False), (True, True)])
def test_exactly_one_home(homes: tuple[bool, bool]) -> None:
    data = plan_dict()
    data["nodes"][0]["home"], data["nodes"][1]["home"] = homes
    with pytest.raises(PlanError, match="exactly one node as home") as info:
        Plan.from_dict(data)
    assert info.value.field == "nodes"


def test_node_names_differ_and_are_server_names() -> None:
    data = plan_dict()
    data["nodes"][1]["name"] = "NODE-A"
    with pytest.raises(PlanError, match="same name"):
        Plan.from_dict(data)
    data = plan_dict()
    data["nodes"][1]["name"] = "node b"
    with pytest.raises(PlanError, match="not a server name") as info:
        Plan.from_dict(data)
    assert info.value.field == "nodes[1].name"


# -- times, durations, volumes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"), [("00:00", 0), ("01:00", 60), ("23:59", 1439), ("09:05", 545)]
)
def test_parse_hhmm(text: str, minutes: int) -> None:
    assert parse_hhmm(text) == minutes
    assert format_hhmm(minutes) == text


@pytest.mark.parametrize("text", ["24:00", "1:00", "12:60", "noon", "", "12:00:00"])
def test_parse_hhmm_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_hhmm(text)


def test_format_hhmm_wraps_past_midnight() -> None:
    assert format_hhmm(23 * 60 + 2 * 60 + 15) == "01:15"
    assert format_hhmm(-15) == "23:45"


@pytest.mark.parametrize(
    ("value", "minutes"),
    [("2h", 120), ("90m", 90), ("1h30m", 90), ("1h 30min", 90), ("45", 45), (30, 30), ("24h", 1440)],
)
def test_parse_duration(value: str | int, minutes: int) -> None:
    assert parse_duration(value) == minutes


@pytest.mark.parametrize("value", ["0", 0, "25h", "2 hours", "h", "", True, -5])
def test_parse_duration_refuses(value: Any) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


def test_volumes() -> None:
    assert normalize_volume("e:") == "E:"
    assert normalize_volume("E:\\") == "E:"
    with pytest.raises(ValueError, match="drive letter"):
        normalize_volume("E:\\data")
    data = plan_dict()
    data["cluster"]["switchover_volumes"] = ["E:", "e:\\"]
    with pytest.raises(PlanError, match="listed twice"):
        Plan.from_dict(data)


def test_ntbackup_block_needs_one_medium_and_append_needs_tape_or_file() -> None:
    data = plan_dict()
    data["jobs"]["local-daily"]["ntbackup"] = {"media_pool": "4mm DDS", "tape": "T1"}
    with pytest.raises(PlanError, match="exactly one of media_pool") as info:
        Plan.from_dict(data)
    assert info.value.field == "jobs.local-daily.ntbackup"
    data["jobs"]["local-daily"]["ntbackup"] = {"media_pool": "4mm DDS", "append": True}
    with pytest.raises(PlanError, match="append"):
        Plan.from_dict(data)


def test_include_must_not_be_empty() -> None:
    data = plan_dict()
    data["jobs"]["local-daily"]["include"] = []
    with pytest.raises(PlanError, match="JOB-4") as info:
        Plan.from_dict(data)
    assert info.value.field == "jobs.local-daily.include"


def test_scripts_dir_is_an_absolute_local_path() -> None:
    data = plan_dict()
    data["scripts_dir"] = "clpbackup"
    with pytest.raises(PlanError, match="absolute local path"):
        Plan.from_dict(data)
    data["scripts_dir"] = "D:\\tools\\clpbackup\\"
    assert Plan.from_dict(data).scripts_dir == "D:\\tools\\clpbackup"


@pytest.mark.parametrize(
    "scripts_dir",
    ["C:\\data..\\..", "C:\\ops\\..\\clp", "C:\\.\\clp", "C:\\clp.", "C:\\clp \\x", "C:\\a\\\\b"],
)
def test_a_scripts_dir_windows_would_normalize_is_refused_at_load(scripts_dir: str) -> None:
    """Found by the long plan fuzz: scripts_dir C:\\data..\\.. is C:\\ once Win32 has normalized it
    (trailing periods trimmed, '..' evaluated: "File path formats on Windows systems"), so deploy
    judged C:\\ by ACL-1 and would have put the batch files there. Refused at load, naming the field."""
    data = plan_dict()
    data["scripts_dir"] = scripts_dir
    with pytest.raises(PlanError, match="File path formats on Windows systems") as info:
        Plan.from_dict(data)
    assert info.value.field == "scripts_dir"
    data["scripts_dir"] = "C:\\ops.d\\clp bk\\"  # a period or a blank inside a step is fine
    assert Plan.from_dict(data).scripts_dir == "C:\\ops.d\\clp bk"


@pytest.mark.parametrize("scripts_dir", ["C:\\clp;b", "C:\\clp,b", "C:\\clp=b", "C:\\ops\\a;b c"])
def test_scripts_dir_with_a_cmd_delimiter_is_refused_at_load(scripts_dir: str) -> None:
    """Found by the Wine judge (#14): ``cmd /c "C:\\clp;b\\job.bat"`` strips the quotes (nothing to
    keep them for: no blank between them, ``cmd /?``) and ends the command name at the delimiter, so
    every batch file, the scheduled run string and the failover one-shot failed with 9009. ``, ; =``
    in scripts_dir are refused at load, naming the field (with a blank the quotes would stay, but
    START and the one-shot's /TR read the path again: the folder is refused either way)."""
    data = plan_dict()
    data["scripts_dir"] = scripts_dir
    with pytest.raises(PlanError, match=r"cmd\.exe") as info:
        Plan.from_dict(data)
    assert info.value.field == "scripts_dir"


@pytest.mark.parametrize(
    "path",
    [
        "\\\\clp1\\scripts\\start.bat",  # a share: CLUSTERPRO runs the node's own copy
        "start.bat",
        "scripts\\start.bat",
        "C:start.bat",
        "C:/Program Files/CLUSTERPRO/scripts/start.bat",
        "C:\\scripts\\..\\start.bat",
        "C:\\scripts\\.\\start.bat",
        "C:\\scripts\\\\start.bat",
        "C:\\scripts\\",
        "C:\\scripts\\start?.bat",
    ],
)
def test_start_script_is_an_absolute_local_path_fo1(path: str) -> None:
    data = plan_dict()
    data["cluster"]["start_script"] = path
    with pytest.raises(PlanError) as info:
        Plan.from_dict(data)
    assert info.value.field == "cluster.start_script"
    data["cluster"]["start_script"] = "C:\\Program Files\\CLUSTERPRO\\scripts\\failover1\\script1\\start.bat"
    assert Plan.from_dict(data).cluster.start_script == data["cluster"]["start_script"]


def test_read_timeout_must_exceed_operation_timeout() -> None:
    data = plan_dict()
    data["connection"]["operation_timeout"] = 30
    data["connection"]["read_timeout"] = 30
    with pytest.raises(PlanError, match="read_timeout"):
        Plan.from_dict(data)


def test_plan_is_immutable() -> None:
    plan = Plan.from_yaml(PLAN_YAML)
    with pytest.raises(Exception, match="frozen"):
        plan.scripts_dir = "D:\\x"


# -- schema and examples -------------------------------------------------------------------------


def test_json_schema_describes_the_plan() -> None:
    schema = Plan.json_schema()
    assert set(schema["required"]) >= {"cluster", "nodes", "jobs"}
    assert schema["additionalProperties"] is False
    password_ref = schema["$defs"]["PasswordRef"]
    assert "callback" not in password_ref["properties"]  # Python-only, not in a plan file
    assert set(password_ref["properties"]) == {"env", "prompt"}
    json.dumps(schema)  # serializable


def test_there_are_examples() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"ws2003-ntbackup.yaml", "ws2008r2-wsb.yaml", "ws2012-wsb.yaml", "ws2012-ja.yaml"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load(path: Path) -> None:
    plan = Plan.from_file(path)
    assert len(plan.nodes) == 2
    assert plan.failover_backup is not None
    assert plan.switchover_jobs()
    # the YAML and its JSON form give the same plan
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert Plan.from_json(json.dumps(data)) == plan


def test_japanese_example_uses_cp932_and_japanese_paths() -> None:
    plan = Plan.from_file(ROOT / "examples" / "plans" / "ws2012-ja.yaml")
    assert {plan.codepage_for(n) for n in plan.nodes} == {932}
    includes = [i for j in plan.jobs.values() for i in j.include]
    assert "C:\\業務データ" in includes


def test_from_dict_does_not_change_its_input() -> None:
    data = plan_dict()
    before = copy.deepcopy(data)
    Plan.from_dict(data)
    assert data == before


def test_packaged_examples_are_copies_of_examples_plans() -> None:
    """``clpbackup/examples/*.yaml`` ship in the wheel (``clpbackup demo``); examples/plans is the source."""
    packaged = {p.name: p.read_bytes() for p in (ROOT / "clpbackup" / "examples").glob("*.yaml")}
    source = {p.name: p.read_bytes() for p in EXAMPLES}
    assert sorted(packaged) == sorted(source), "copy examples/plans/*.yaml to clpbackup/examples/"
    for name, content in source.items():
        assert packaged[name] == content, f"clpbackup/examples/{name} differs from examples/plans/{name}"


@pytest.mark.parametrize(
    ("extra", "clash"),
    [
        ("local-daily-once", "one-shot task of job 'local-daily'"),
        ("LOCAL-DAILY", "task of job 'local-daily'"),
        ("local-daily-failover", "failover run script of job 'local-daily'"),
        ("failover", "the failover script"),
        ("start-fragment", "the start-script fragment"),
    ],
)
def test_names_derived_from_the_plan_must_not_collide_own1(extra: str, clash: str) -> None:
    # a job named x-once shared its task name with job x's one-shot: a failover one-shot then
    # replaced a daily task (issue #10). Refused at load, naming both jobs.
    data = yaml.safe_load((ROOT / "examples" / "plans" / "ws2012-wsb.yaml").read_text(encoding="utf-8"))
    data["jobs"][extra] = dict(data["jobs"]["local-daily"])
    with pytest.raises(PlanError, match="OWN-1") as info:
        Plan.from_dict(data)
    assert info.value.field == "jobs" and extra in str(info.value) and clash in str(info.value)
