"""Errors that point at the fix (#13): no traceback for a user mistake, YAML pitfalls explained at
their exact line, connection failures told apart (DNS, refused, timeout) with the real scheme and
port and their cause said once, forward slashes in Windows include paths refused with the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from clpbackup.cli import EXIT_UNREADABLE, main
from clpbackup.errors import PlanError
from clpbackup.plan import Plan
from clpbackup.transport._errors import map_error

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "plans" / "ws2012-wsb.yaml"
SOURCE = EXAMPLE.read_text(encoding="utf-8")


def clp(*args: str, drop_password: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if drop_password:
        env.pop("CLPBACKUP_PASSWORD", None)
    else:
        env["CLPBACKUP_PASSWORD"] = "Errors-Test-0nly!"
    return subprocess.run(
        [sys.executable, "-m", "clpbackup", *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False,
    )


def plan_file(tmp_path: Path, text: str | bytes, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    assert old in SOURCE, old
    return SOURCE.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# -- simulate: user mistakes, never a traceback ---------------------------------------------------


def test_simulate_user_mistakes_exit_2_without_a_traceback(tmp_path: Path) -> None:
    out = str(tmp_path / "local.yaml")
    sjis = plan_file(tmp_path, SOURCE.replace("prod-db", "本番db").encode("cp932"), "sjis.yaml")
    missing = plan_file(tmp_path, edited("  failover_group: failover1\n", ""), "missing.yaml")
    cases = {
        "password": (
            clp("simulate", str(EXAMPLE), "--write-plan", out, drop_password=True), "CLPBACKUP_PASSWORD"
        ),
        "shift-jis": (clp("simulate", str(sjis), "--write-plan", out), "Shift-JIS (cp932)"),
        "missing field": (clp("simulate", str(missing), "--write-plan", out), "cluster.failover_group"),
    }
    for what, (proc, said) in cases.items():
        assert "Traceback" not in proc.stderr, (what, proc.stderr)
        assert proc.returncode == EXIT_UNREADABLE, (what, proc.returncode, proc.stderr)
        assert said in proc.stderr, (what, proc.stderr)
    assert "save it as UTF-8" in cases["shift-jis"][0].stderr
    assert "required, but missing" in cases["missing field"][0].stderr


# -- YAML pitfalls ------------------------------------------------------------------------------------


def read_error(tmp_path: Path, text: str | bytes) -> PlanError:
    with pytest.raises(PlanError) as info:
        Plan.from_file(plan_file(tmp_path, text))
    return info.value


def test_an_unquoted_time_is_a_base_60_number_quote_it(tmp_path: Path) -> None:
    text = edited('daily_at: "01:00"', "daily_at: 1:00")
    err = read_error(tmp_path, text)
    assert err.field == "jobs.local-daily.daily_at" and err.line == line_of(text, "daily_at: 1:00")
    assert "reads as 60" in err.message and err.hint == "quote the time: '01:00'"
    # 01:00 unquoted is a string for YAML 1.1 (the base-60 form starts with 1-9): still accepted
    Plan.from_file(plan_file(tmp_path, edited('daily_at: "01:00"', "daily_at: 01:00")))


def test_a_double_quoted_windows_path_turns_backslash_t_into_a_tab(tmp_path: Path) -> None:
    text = edited("include: ['C:\\data', 'D:\\app\\config']", 'include: ["C:\\temp"]')
    err = read_error(tmp_path, text)
    assert err.field == "jobs.local-daily.include[0]" and err.line == line_of(text, '"C:\\temp"')
    assert "reads as 'C:<TAB>emp'" in err.message
    assert err.hint is not None and "single quotes for Windows paths" in err.hint
    # "C:\data": \d is no YAML escape at all — the parser's error gets the same advice
    bad = read_error(tmp_path, edited("include: ['C:\\data', 'D:\\app\\config']", 'include: ["C:\\data"]'))
    assert "unknown escape" in bad.message and bad.hint and "single quotes for Windows paths" in bad.hint


def test_an_empty_file_says_so(tmp_path: Path) -> None:
    for text in ("", "\n\n# only a comment\n"):
        err = read_error(tmp_path, text)
        assert err.message == "the file is empty"


def test_yaml_syntax_errors_name_the_exact_line(tmp_path: Path) -> None:
    text = edited("  failover_group: failover1\n", "  failover_group: [failover1\n")
    err = read_error(tmp_path, text)
    assert err.line is not None and abs(err.line - line_of(text, "failover_group: [")) <= 1


def test_forward_slashes_in_an_include_path_are_refused_with_the_fix(tmp_path: Path) -> None:
    text = edited("'C:\\data'", "'C:/data'")
    err = read_error(tmp_path, text)
    assert err.field == "jobs.local-daily.include[0]" and err.line == line_of(text, "include: ['C:/data'")
    assert "forward slashes" in err.message and "'C:\\data'" in err.message


@pytest.mark.parametrize("char", ["<", ">", '"', "|"])
def test_an_include_or_exclude_no_windows_name_can_hold_is_refused_at_load(tmp_path: Path, char: str) -> None:
    """No Windows file or folder name holds < > " | (Microsoft Learn, "Naming Files, Paths, and
    Namespaces"): refused when the plan loads, naming the item, the character and what to do —
    before, only NT-2's live check (2003) or the QUOTE rule at render refused it."""
    item = "D:\\app\\a" + char + "b"
    yaml_item = "'" + item.replace("'", "''") + "'"
    text = edited("include: ['C:\\data', 'D:\\app\\config']", f"include: ['C:\\data', {yaml_item}]")
    err = read_error(tmp_path, text)
    assert err.field == "jobs.local-daily.include[1]" and err.line == line_of(text, yaml_item)
    assert repr(char) in err.message and "Naming Files, Paths, and Namespaces" in err.message
    assert "write the path exactly as the node shows it" in err.message
    data = yaml.safe_load(SOURCE)
    data["jobs"]["local-daily"]["exclude"] = ["C:\\data\\tmp", item]
    with pytest.raises(PlanError) as info:
        Plan.from_dict(data)
    assert info.value.field == "jobs.local-daily.exclude[1]" and repr(char) in info.value.message


@pytest.mark.parametrize("item", ["E:\\$(Get-Item C:\\)", "C:\\data:stream", "\\\\?\\C:\\a:b", "D:\\a\\b:"])
def test_a_colon_outside_the_drive_is_refused_at_load(item: str) -> None:
    """Found by the long plan fuzz: ``E:\\$(Get-Item C:\\)`` loaded and only NT-2's live check on 2003
    refused it at deploy. ":" is reserved in names (Microsoft Learn, "Naming Files, Paths, and
    Namespaces") except after the drive letter; the drive forms stay accepted."""
    data = yaml.safe_load(SOURCE)
    data["jobs"]["local-daily"]["include"] = ["C:\\data", item]
    with pytest.raises(PlanError) as info:
        Plan.from_dict(data)
    assert info.value.field == "jobs.local-daily.include[1]" and "':'" in info.value.message
    data["jobs"]["local-daily"]["include"] = ["C:\\data", "d:", "D:\\app\\config\\"]
    Plan.from_dict(data)


@pytest.mark.parametrize("char", ["<", ">", '"', "|"])
def test_a_target_no_volume_or_share_name_can_hold_is_refused_at_load(tmp_path: Path, char: str) -> None:
    """The same reserved characters in a WSB target: refused when the plan loads, naming the field and
    the line, rather than by the QUOTE rule at render. ``\\\\?\\Volume{…}\\`` keeps its ``?``."""
    target = "\\\\nas01\\backup" + char + "\\{node}"
    yaml_target = "'" + target.replace("'", "''") + "'"
    text = edited("target: '\\\\nas01\\backup\\{node}'", f"target: {yaml_target}")
    err = read_error(tmp_path, text)
    assert err.field == "jobs.local-daily.target" and err.line == line_of(text, yaml_target)
    assert repr(char) in err.message and "Naming Files, Paths, and Namespaces" in err.message
    assert "a volume (G:) or a share" in err.message
    volume = "\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\\"
    Plan.from_file(plan_file(tmp_path, edited("target: '\\\\nas01\\backup\\{node}'", f"target: '{volume}'")))


def test_validate_shows_the_pitfall_through_the_real_program(tmp_path: Path) -> None:
    path = plan_file(tmp_path, edited('daily_at: "01:00"', "daily_at: 1:00"))
    proc = clp("validate", str(path))
    assert proc.returncode == EXIT_UNREADABLE and "Traceback" not in proc.stderr
    assert "quote the time: '01:00'" in proc.stderr


# -- connection failures ------------------------------------------------------------------------------


def _real(exc_url: str, **kw: float) -> BaseException:
    try:
        requests.get(exc_url, timeout=kw.get("timeout", 5))
    except requests.exceptions.RequestException as exc:
        return exc
    raise AssertionError("the request was expected to fail")


def test_a_refused_port_names_scheme_and_port_and_says_the_cause_once() -> None:
    err = map_error(_real("http://127.0.0.1:1/wsman"), node="node-b", phase="open")
    text = str(err)
    assert "nothing accepts connections at http://127.0.0.1:1 (connection refused)" in text
    assert "TCP 1" in text and "Max retries" not in text and "HTTPConnectionPool" not in text


def test_a_name_that_does_not_resolve_is_not_a_refused_port() -> None:
    err = map_error(_real("http://no-such-node.invalid:5985/wsman"), node="node-b", phase="open")
    assert "the name no-such-node.invalid does not resolve (DNS)" in str(err)
    assert "refused" not in str(err)


def test_a_timeout_is_told_apart_with_the_https_port() -> None:
    exc = requests.exceptions.ConnectTimeout("timed out")
    exc.request = requests.Request("POST", "https://node-b.example.com:5986/wsman").prepare()
    err = map_error(exc, node="node-b", phase="open")
    assert "no answer from https://node-b.example.com:5986 in time" in str(err)
    assert err.hint is not None and "TCP 5986" in err.hint and "HTTPS" in err.hint


def test_status_prints_a_node_error_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = edited("host: 192.0.2.11,", "host: 127.0.0.1, connection: {port: 1},")
    text = text.replace("host: 192.0.2.12,", "host: 127.0.0.1, connection: {port: 1},", 1)
    os.environ.setdefault("CLPBACKUP_PASSWORD", "Errors-Test-0nly!")
    code = main(["status", str(plan_file(tmp_path, text))])
    out = capsys.readouterr().out
    assert code == 1
    assert out.count("connection refused") == 2, out  # once per node, not again in the problem list
