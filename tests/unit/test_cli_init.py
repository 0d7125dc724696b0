"""``clpbackup init``: a commented plan from flags or questions, valid at once (real entry point)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from clpbackup.cli import main
from clpbackup.cli_init import os_choices
from clpbackup.plan import OS_VERSIONS, Plan

ROOT = Path(__file__).resolve().parents[2]


def clp(*argv: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clpbackup", *argv], capture_output=True, text=True, cwd=ROOT, timeout=60,
        stdin=stdin,
    )


def test_the_os_choices_are_the_plans() -> None:
    assert os_choices() == OS_VERSIONS


@pytest.mark.parametrize("os_version", OS_VERSIONS)
def test_init_writes_a_plan_that_validates_for_every_os(
    os_version: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # In process (cli.main, as the console script calls it): eight subprocess pairs would cost the
    # shared machine minutes; the entry point itself is run by the tests below.
    out = tmp_path / "plan.yaml"
    assert main(["init", str(out), "--os", os_version]) == 0
    assert capsys.readouterr().out == f"wrote {out}; next: clpbackup validate {out}\n"
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# clpbackup plan:") and "(SEC-1)" in text and "(SCH-3)" in text
    assert main(["validate", str(out)]) == 0
    assert ": valid — 0 errors, 0 warnings" in capsys.readouterr().out
    plan = Plan.from_file(out)
    assert [n.os for n in plan.nodes] == [os_version, os_version]


def test_init_takes_every_answer_from_flags(tmp_path: Path) -> None:
    out = tmp_path / "db.yaml"
    proc = clp(
        "init", str(out), "--os", "2019", "--cluster", "prod-db", "--group", "grp1",
        "--node-a", "db-01=10.0.0.1", "--node-b", "db-02=10.0.0.2", "--volumes", "E:,F:",
        "--include", "C:\\data,D:\\app", "--target", "\\\\nas02\\bk\\{node}",
        "--username", "CORP\\svc'bk", "--password-env", "DB_PW",
    )
    assert proc.returncode == 0, proc.stderr
    assert clp("validate", str(out)).returncode == 0
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["cluster"] == {
        "name": "prod-db", "failover_group": "grp1", "switchover_volumes": ["E:", "F:"]}
    assert [(n["name"], n["host"], n.get("home", False)) for n in data["nodes"]] == [
        ("db-01", "10.0.0.1", True), ("db-02", "10.0.0.2", False)]
    assert data["connection"]["username"] == "CORP\\svc'bk"
    assert data["connection"]["password"] == {"env": "DB_PW"}
    assert data["jobs"]["local-daily"]["include"] == ["C:\\data", "D:\\app"]
    assert data["jobs"]["local-daily"]["target"] == "\\\\nas02\\bk\\{node}"
    assert data["jobs"]["shared-daily"]["target"] == "\\\\nas02\\bk\\{node}-shared"
    assert data["jobs"]["shared-daily"]["include"] == ["E:", "F:"]


def test_init_asks_on_a_terminal(tmp_path: Path) -> None:
    out = tmp_path / "asked.yaml"
    master, slave = pty.openpty()
    try:
        # os, cluster, group, home node, standby node; Enter keeps every other default.
        os.write(master, b"2008R2\nfileserv\n\nfs-01=10.0.0.21\nfs-02=10.0.0.22\n" + b"\n" * 5)
        proc = clp("init", str(out), stdin=slave)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0, proc.stderr
    assert "Windows Server version (2003, 2008" in proc.stdout and "cluster name [cluster1]: " in proc.stdout
    plan = Plan.from_file(out)
    assert plan.cluster.name == "fileserv" and plan.cluster.failover_group == "failover1"
    assert [(n.name, n.os) for n in plan.nodes] == [("fs-01", "2008R2"), ("fs-02", "2008R2")]
    assert clp("validate", str(out)).returncode == 0


def test_init_never_replaces_a_file_without_force(tmp_path: Path) -> None:
    out = tmp_path / "plan.yaml"
    out.write_text("mine\n", encoding="utf-8")
    proc = clp("init", str(out))
    assert proc.returncode == 2 and "exists; nothing written (--force replaces it)" in proc.stderr
    assert out.read_text(encoding="utf-8") == "mine\n"
    assert clp("init", str(out), "--force").returncode == 0
    assert out.read_text(encoding="utf-8").startswith("# clpbackup plan:")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        ([], 0, "wrote "),
        (["--node-a", "node-a"], 2, "--node-a: 'node-a' is not NAME=HOST"),
        (["--node-a", "b a d=10.0.0.1"], 2, "nodes[0].name (line 9): 'b a d' is not a server name"),
        (["--os", "2008", "--include", "C:\\data"], 1, "OS-1"),
        (["--os", "2000"], 2, "--os '2000' is not one of 2003, 2008, 2008R2"),
    ],
)
def test_init_bad_answers_write_nothing_and_say_why(
    argv: list[str], code: int, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan.yaml"
    assert main(["init", str(out), "--no-input", *argv]) == code
    err = capsys.readouterr()
    assert message in err.out + err.err
    assert out.exists() == (code == 0)
