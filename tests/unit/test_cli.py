"""The offline CLI: validate, render, schema; exit codes 0 / 1 / 2; text and JSON output."""

from __future__ import annotations

import base64
import copy
import importlib.machinery
import json
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from clpbackup.artifacts import ArtifactFile, NodeArtifacts, ScheduleEntry
from clpbackup.cli import EXIT_FINDINGS, EXIT_OK, EXIT_UNREADABLE, main, subcommand
from clpbackup.plan import Plan

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "plans" / "ws2012-wsb.yaml"


def example_dict() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def write_plan(tmp_path: Path, change: Callable[[dict[str, Any]], None], name: str = "plan.yaml") -> Path:
    data = copy.deepcopy(example_dict())
    change(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- validate -------------------------------------------------------------------------------------


def test_validate_a_good_plan_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", str(EXAMPLE))
    assert code == EXIT_OK
    assert "valid — 0 errors, 0 warnings" in out
    assert "Notes:" in out and "OS-3" in out  # info findings are shown by default
    code, out, _ = run(capsys, "validate", "--quiet", str(EXAMPLE))
    assert code == EXIT_OK and "OS-3" not in out


def test_validate_a_good_plan_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", str(EXAMPLE), "--format", "json")
    assert code == EXIT_OK
    data = json.loads(out)
    assert data["valid"] is True and data["plan"] == str(EXAMPLE)
    assert data["counts"] == {"error": 0, "warning": 0, "info": len(data["findings"])}
    assert {f["rule"] for f in data["findings"]} >= {"OS-3", "JOB-3", "CAU-2"}
    assert set(data["findings"][0]) == {"rule", "severity", "node", "job", "field", "message", "hint"}


def _wsb2(d: dict[str, Any]) -> None:
    d["jobs"]["local-daily"]["target"] = "E:"


def _wsb3(d: dict[str, Any]) -> None:
    d["jobs"]["local-daily"]["target"] = "\\\\nas01\\backup"


def _sch3(d: dict[str, Any]) -> None:
    d["failover_backup"]["at"] = "01:30"


def _os1(d: dict[str, Any]) -> None:
    d["nodes"][1]["os"] = "2003"


def _sec1(d: dict[str, Any]) -> None:
    d["jobs"]["shared-daily"]["target"] = "\\\\nas01\\backup\\{node} -password:Pa55word"


def _quote(d: dict[str, Any]) -> None:
    d["jobs"]["local-daily"]["include"] = ["C:\\data\r\necho injected"]


BROKEN = [("WSB-2", _wsb2), ("WSB-3", _wsb3), ("SCH-3", _sch3), ("OS-1", _os1), ("SEC-1", _sec1),
          ("QUOTE", _quote)]


@pytest.mark.parametrize(("rule", "change"), BROKEN, ids=[r for r, _ in BROKEN])
def test_validate_a_plan_breaking_a_rule_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rule: str, change: Callable[[dict[str, Any]], None]
) -> None:
    path = write_plan(tmp_path, change)
    code, out, _ = run(capsys, "validate", str(path))
    assert code == EXIT_FINDINGS
    assert "INVALID" in out and "Errors:" in out and f"  {rule}" in out
    code, out, _ = run(capsys, "validate", str(path), "--format", "json")
    assert code == EXIT_FINDINGS
    data = json.loads(out)
    assert data["valid"] is False
    assert rule in {f["rule"] for f in data["findings"] if f["severity"] == "error"}
    assert "Pa55word" not in out  # SEC-1: the value is never echoed


@pytest.mark.parametrize(("rule", "change"), BROKEN, ids=[r for r, _ in BROKEN])
def test_render_of_a_plan_breaking_a_rule_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rule: str, change: Callable[[dict[str, Any]], None]
) -> None:
    path = write_plan(tmp_path, change)
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "render", str(path), "--out", str(out_dir))
    assert code == EXIT_FINDINGS
    assert f"  {rule}" in err and "nothing rendered" in err
    assert out == ""
    assert not out_dir.exists()
    code, out, _ = run(capsys, "render", str(path), "--format", "json", "--out", str(out_dir))
    assert code == EXIT_FINDINGS and not out_dir.exists()
    data = json.loads(out)
    assert data["valid"] is False and rule in {f["rule"] for f in data["findings"]}


def test_validate_a_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "validate", str(tmp_path / "nope.yaml"))
    assert code == EXIT_UNREADABLE
    assert "cannot read the plan" in err and "No such file" in err and out == ""


def test_validate_an_invalid_field_exits_2_naming_field_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace('daily_at: "03:00"', 'daily_at: "3 am"')
    line = next(i for i, s in enumerate(text.splitlines(), 1) if '"3 am"' in s)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "validate", str(path))
    assert code == EXIT_UNREADABLE
    assert f"jobs.shared-daily.daily_at (line {line}):" in err
    code, out, _ = run(capsys, "validate", str(path), "--format", "json")
    assert code == EXIT_UNREADABLE
    data = json.loads(out)
    assert data["valid"] is False
    assert data["error"]["field"] == "jobs.shared-daily.daily_at"
    assert data["error"]["line"] == line
    assert data["error"]["type"] == "PlanError"
    assert not data["error"]["message"].startswith("jobs.")  # the field is not repeated


def test_validate_bad_yaml_exits_2_with_the_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("cluster:\n  name: [x\nnodes: []\n", encoding="utf-8")
    code, _, err = run(capsys, "validate", str(path))
    assert code == EXIT_UNREADABLE
    assert "not valid YAML" in err and "line " in err
    assert "(file)" not in err


def test_clear_password_exits_2_with_sec1_and_is_not_echoed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def change(d: dict[str, Any]) -> None:
        d["connection"]["password"] = "Pa55word-in-clear"

    path = write_plan(tmp_path, change)
    for fmt in ("text", "json"):
        code, out, err = run(capsys, "validate", str(path), "--format", fmt)
        assert code == EXIT_UNREADABLE
        assert "SEC-1" in out + err and "connection.password" in out + err
        assert "Pa55word" not in out + err
        code, out, err = run(capsys, "render", str(path), "--format", fmt)
        assert code == EXIT_UNREADABLE and "Pa55word" not in out + err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == EXIT_UNREADABLE
    assert main(["frobnicate"]) == EXIT_UNREADABLE
    assert main(["validate", str(EXAMPLE), "--format", "xml"]) == EXIT_UNREADABLE
    assert main([]) == EXIT_UNREADABLE
    _, err = capsys.readouterr()
    assert "usage: clpbackup" in err


# -- render ---------------------------------------------------------------------------------------

BAT = "@echo off\r\nrem 業務データ\r\nwbadmin start backup -quiet\r\n".encode("cp932")
BKS = "E:\\\r\n".encode("utf-16-le")


def _artifacts(plan: Plan, node: str) -> NodeArtifacts:
    d = plan.scripts_dir
    return NodeArtifacts(
        node=node,
        os=plan.node(node).os,
        scheduler="schtasks",
        codepage=932,
        files=(
            ArtifactFile(d + "\\local-daily.bat", "backup-script", "local-daily", "cp932", BAT),
            ArtifactFile(d + "\\shared.bks", "selection", "shared-daily", "utf-16-le", BKS),
        ),
        schedules=(
            ScheduleEntry(
                name="clpbackup-prod-db-local-daily", job="local-daily", kind="daily", at="01:00",
                scheduler="schtasks",
                argv=("schtasks", "/Create", "/TN", "clpbackup-prod-db-local-daily"),
                command_line="schtasks /Create /TN clpbackup-prod-db-local-daily",
                run='cmd /c "C:\\clpbackup\\local-daily.bat"',
            ),
        ),
    )


@pytest.fixture
def fake_render(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Replace clpbackup.render with one returning fixed artifacts (this tests the CLI layer only)."""
    calls: list[str | None] = []

    def render_plan(plan: Plan, node: str | None = None) -> dict[str, NodeArtifacts]:
        calls.append(node)
        names = [plan.node(node).name] if node is not None else [n.name for n in plan.nodes]
        return {name: _artifacts(plan, name) for name in names}

    mod = types.ModuleType("clpbackup.render")
    mod.__spec__ = importlib.machinery.ModuleSpec("clpbackup.render", None)
    mod.render_plan = render_plan  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "clpbackup.render", mod)
    return calls


def test_render_json_shape(capsys: pytest.CaptureFixture[str], fake_render: list[str | None]) -> None:
    code, out, _ = run(capsys, "render", str(EXAMPLE), "--format", "json")
    assert code == EXIT_OK
    data = json.loads(out)
    assert list(data) == ["nodes"]
    assert list(data["nodes"]) == ["node-a", "node-b"]
    node = data["nodes"]["node-a"]
    assert node["os"] == "2012"
    assert {"path", "role", "job", "encoding", "content_base64"} <= set(node["files"][0])
    assert base64.b64decode(node["files"][0]["content_base64"]) == BAT
    assert {"name", "job", "kind", "at", "scheduler", "argv", "command_line"} <= set(node["schedules"][0])
    assert node["schedules"][0]["argv"][0] == "schtasks"


def test_render_text_shows_files_and_schedules(
    capsys: pytest.CaptureFixture[str], fake_render: list[str | None]
) -> None:
    code, out, _ = run(capsys, "render", str(EXAMPLE))
    assert code == EXIT_OK
    assert "=== node-a: Windows Server 2012" in out and "=== node-b" in out
    assert "C:\\clpbackup\\local-daily.bat" in out
    assert "rem 業務データ" in out  # decoded from cp932
    assert "\r" not in out
    assert "schtasks /Create /TN clpbackup-prod-db-local-daily" in out


def test_render_one_node(capsys: pytest.CaptureFixture[str], fake_render: list[str | None]) -> None:
    code, out, _ = run(capsys, "render", str(EXAMPLE), "--node", "node-b", "--format", "json")
    assert code == EXIT_OK
    assert list(json.loads(out)["nodes"]) == ["node-b"]
    assert fake_render[-1] == "node-b"
    code, out, err = run(capsys, "render", str(EXAMPLE), "--node", "node-z")
    assert code == EXIT_UNREADABLE and "node-a, node-b" in err and out == ""


def test_render_out_writes_exact_bytes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake_render: list[str | None]
) -> None:
    out_dir = tmp_path / "out"
    code, out, _ = run(capsys, "render", str(EXAMPLE), "--out", str(out_dir))
    assert code == EXIT_OK
    assert (out_dir / "node-a" / "local-daily.bat").read_bytes() == BAT
    assert (out_dir / "node-b" / "shared.bks").read_bytes() == BKS
    assert sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()) == [
        "node-a/local-daily.bat", "node-a/shared.bks", "node-b/local-daily.bat", "node-b/shared.bks"
    ]
    assert out.count("wrote ") == 4


def test_render_unavailable_is_reported(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sys.modules[name] = None makes the import fail like a missing module
    monkeypatch.setitem(sys.modules, "clpbackup.render", None)
    code, _, err = run(capsys, "render", str(EXAMPLE))
    assert code == EXIT_FINDINGS and "clpbackup.render" in err


# -- schema ---------------------------------------------------------------------------------------


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_schema_prints_a_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == EXIT_OK
    schema = json.loads(out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["type"] == "object"
    assert set(schema["required"]) == {"cluster", "nodes", "jobs"}
    assert set(schema["properties"]) == set(Plan.model_fields)
    for ref in _refs(schema):  # every reference resolves
        assert ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in schema["$defs"], ref
    job = schema["$defs"]["Job"]
    assert job["properties"]["scope"]["enum"] == ["local", "switchover"]
    try:
        import jsonschema  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in sorted((ROOT / "examples" / "plans").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)


# -- the program ----------------------------------------------------------------------------------


def test_python_m_clpbackup_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "clpbackup", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("validate", "render", "schema"):
        assert name in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "clpbackup", "validate", "--help"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert proc.returncode == 0 and "--format" in proc.stdout


def test_importing_the_cli_stays_light() -> None:
    code = (
        "import sys, clpbackup.cli\n"
        "print(sorted(m for m in ('pydantic', 'yaml', 'pypsrp') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_subcommand_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        subcommand("validate", "again")(lambda args: 0)


def test_render_with_the_real_renderer(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """End to end offline: the example renders, SCH-2 shifts the standby, --out writes the bytes."""
    code, out, _ = run(capsys, "render", str(EXAMPLE), "--format", "json")
    assert code == EXIT_OK
    nodes = json.loads(out)["nodes"]
    assert list(nodes) == ["node-a", "node-b"]
    starts = {
        n: {s["job"]: s["at"] for s in v["schedules"] if s["kind"] == "daily"} for n, v in nodes.items()
    }
    assert starts == {
        "node-a": {"local-daily": "01:00", "shared-daily": "03:00"},
        "node-b": {"local-daily": "01:00", "shared-daily": "04:15"},
    }
    out_dir = tmp_path / "out"
    code, _, _ = run(capsys, "render", str(EXAMPLE), "--out", str(out_dir))
    assert code == EXIT_OK
    for name, node in nodes.items():
        for f in node["files"]:
            written = out_dir / name / f["path"].rsplit("\\", 1)[-1]
            assert written.read_bytes() == base64.b64decode(f["content_base64"])
    assert b"\\\\nas01\\backup\\node-b" in (out_dir / "node-b" / "local-daily.bat").read_bytes()


def test_render_shows_warnings_on_stderr_and_still_renders(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def change(d: dict[str, Any]) -> None:
        d["jobs"]["shared-daily"]["target"] = "G:"  # WSB-3 warning: a local volume

    path = write_plan(tmp_path, change)
    code, out, err = run(capsys, "render", str(path))
    assert code == EXIT_OK
    assert "Warnings:" in err and "WSB-3" in err
    assert "-backupTarget:G:" in out
    code, out, err = run(capsys, "render", str(path), "--format", "json")
    assert code == EXIT_OK and err == "" and json.loads(out)["nodes"]
