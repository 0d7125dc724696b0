"""The Ansible module ``clpbackup_cluster`` through real ``ansible-playbook`` runs, no mocks.

One ``clpbackup simulate examples/plans/ws2012-wsb.yaml --write-plan PLAN`` process serves the two
simulated Windows Server 2012 nodes for the whole module; ``ansible-playbook`` runs on a localhost
inventory with ``ANSIBLE_LIBRARY`` from ``clpbackup ansible-path`` and this test's Python as the
module's interpreter. The tests share the simulated nodes and run in file order: check mode first
(fresh nodes), then deploy, then what needs deployed nodes.

Each generated playbook saves its registered results to a JSON file in an ``always:`` section, so a
test reads exactly what the module returned, while it also checks what an operator sees on the
terminal (diffs, the failure line, no password at ``-vvv``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PLAN = ROOT / "examples" / "plans" / "ws2012-wsb.yaml"
EXAMPLES = ROOT / "examples" / "ansible"
PASSWORD_ENV = "CLPBACKUP_PASSWORD"  # the variable examples/plans/ws2012-wsb.yaml names
PASSWORD = "Zq7-ansible-s3cret!"  # distinctive, so that finding it in any output means a leak
WRONG_PASSWORD = "Wr0ng-pass-4-ansible"
_runs = count(1)


@dataclass
class Sim:
    """The running simulation and what the playbooks need."""

    dir: Path
    plan: Path  # written by clpbackup simulate, pointed at the simulated nodes
    inventory: Path
    library: str
    playbook_cmd: str


@dataclass
class Run:
    rc: int
    output: str  # stdout and stderr
    results: dict[str, Any]  # registered variables, from the always: section


def _ansible_playbook() -> str:
    beside = Path(sys.executable).with_name("ansible-playbook")
    found = str(beside) if beside.exists() else shutil.which("ansible-playbook")
    if not found:
        pytest.fail("ansible-playbook is not installed: pip install -e '.[test]' (ansible-core)")
    return found


def _wait_for_plan(proc: subprocess.Popen[bytes], plan: Path, log: Path, timeout: float = 60) -> None:
    """Wait until clpbackup simulate has written a plan that loads (it may still be writing it)."""
    from clpbackup.errors import PlanError
    from clpbackup.plan import Plan

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(
                f"clpbackup simulate exited with {proc.returncode} before writing {plan}:\n"
                + log.read_text(errors="replace")
            )
        if plan.exists():
            try:
                Plan.from_file(plan)
                return
            except PlanError:
                pass
        if time.monotonic() > deadline:
            text = log.read_text(errors="replace")
            pytest.fail(f"clpbackup simulate wrote no plan in {timeout:.0f} s:\n{text}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    tmp = tmp_path_factory.mktemp("ansible")
    plan = tmp / "plan.yaml"
    log = tmp / "simulate.log"
    env = {**os.environ, PASSWORD_ENV: PASSWORD}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "clpbackup", "simulate", str(EXAMPLE_PLAN), "--write-plan", str(plan)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
    try:
        _wait_for_plan(proc, plan, log)
        library = subprocess.run(
            [sys.executable, "-m", "clpbackup", "ansible-path"], capture_output=True, text=True, check=True
        ).stdout.strip()
        inventory = tmp / "inventory.ini"
        # The group name of examples/ansible/inventory.ini, so the example playbooks run unchanged.
        inventory.write_text(
            f"[clusters]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n",
            encoding="utf-8",
        )
        yield Sim(tmp, plan, inventory, library, _ansible_playbook())
    finally:
        proc.send_signal(signal.SIGINT)  # "serves until interrupted"
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _env(sim: Sim, *, password: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.pop(PASSWORD_ENV, None)
    env.update(
        {
            "ANSIBLE_LIBRARY": sim.library,
            "ANSIBLE_HOME": str(sim.dir / "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": str(sim.dir / "ansible-tmp"),
            "ANSIBLE_REMOTE_TMP": str(sim.dir / "ansible-tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_STDOUT_CALLBACK": "default",
            "LC_ALL": "C.UTF-8",  # ansible-core refuses to run without a UTF-8 locale
        }
    )
    if password:
        env[PASSWORD_ENV] = PASSWORD
    return env


def _run(sim: Sim, playbook: Path, *args: str, password: bool = True, results: Path | None = None) -> Run:
    proc = subprocess.run(
        [sim.playbook_cmd, "-i", str(sim.inventory), str(playbook), *args],
        env=_env(sim, password=password),
        cwd=sim.dir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    data = json.loads(results.read_text(encoding="utf-8")) if results and results.exists() else {}
    return Run(proc.returncode, proc.stdout + proc.stderr, data)


def playbook(
    sim: Sim,
    tasks: list[dict[str, Any]],
    *args: str,
    password: bool = True,
    play: dict[str, Any] | None = None,
) -> Run:
    """Run ``tasks`` as one play; every registered variable comes back in ``Run.results``."""
    n = next(_runs)
    out = sim.dir / f"results-{n}.json"
    names = [t["register"] for t in tasks if "register" in t]
    saved = "{{ {" + ", ".join(f"'{r}': {r} | default(None)" for r in names) + "} | to_json }}"
    body = {
        "name": "test play",
        "hosts": "clusters",
        "gather_facts": False,
        **(play or {}),
        "tasks": [
            {
                "block": tasks,
                "always": [
                    {
                        "name": "save the results for the test",
                        "ansible.builtin.copy": {"content": saved, "dest": str(out)},
                        "check_mode": False,
                        "diff": False,
                    }
                ],
            }
        ],
    }
    path = sim.dir / f"playbook-{n}.yml"
    path.write_text(yaml.safe_dump([body], sort_keys=False), encoding="utf-8")
    return _run(sim, path, *args, password=password, results=out)


def task(register: str, **options: Any) -> dict[str, Any]:
    extra = {k: options.pop(k) for k in ("ignore_errors", "check_mode", "vars") if k in options}
    return {"name": register, "clpbackup_cluster": options, "register": register, **extra}


def recap(output: str) -> dict[str, int]:
    m = re.search(r"^localhost\s*:\s*(.*)$", output, re.MULTILINE)
    assert m, output
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def write_plan(sim: Sim, name: str, edit: Any) -> Path:
    """A copy of the simulation's plan changed by ``edit(data)``."""
    data = yaml.safe_load(sim.plan.read_text(encoding="utf-8"))
    edit(data)
    path = sim.dir / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the tests, in the order they run against the shared simulated nodes ----------------------------


def test_module_docs_match_its_arguments(sim: Sim) -> None:
    """ansible-doc parses DOCUMENTATION from the folder ``clpbackup ansible-path`` prints, and every
    documented option is one the module accepts (and the other way round)."""
    from clpbackup.ansible import clpbackup_cluster, module_dir

    assert sim.library == module_dir()
    assert (Path(sim.library) / "clpbackup_cluster.py").is_file()
    ansible_doc = str(Path(sim.playbook_cmd).with_name("ansible-doc"))
    doc = subprocess.run(
        [ansible_doc, "-M", sim.library, "--json", "clpbackup_cluster"],
        env=_env(sim),
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(doc.stdout)["clpbackup_cluster"]["doc"]
    options = info["options"]
    assert set(options) == set(clpbackup_cluster.ARGUMENT_SPEC)
    for name, spec in clpbackup_cluster.ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
        assert options[name].get("default") == spec.get("default"), name
    assert options["state"]["choices"] == list(clpbackup_cluster.STATES)
    assert info["attributes"]["check_mode"]["support"] == "full"
    assert info["attributes"]["diff_mode"]["support"] == "full"


def test_check_mode_writes_nothing_and_diff_shows_before_after(sim: Sim) -> None:
    run = playbook(
        sim,
        [
            task("deploy", plan=str(sim.plan), state="deployed"),
            # The same play, but this task for real: it must still find nothing deployed.
            task("status", plan=str(sim.plan), state="status", check_mode=False),
        ],
        "--check",
        "--diff",
    )
    assert run.rc == 0, run.output
    deploy, status = run.results["deploy"], run.results["status"]

    assert deploy["changed"] is True  # what *would* change
    assert deploy["operation"] == "deploy --check"
    for node in ("node-a", "node-b"):
        changes = deploy["nodes"][node]["changes"]
        assert changes and all(c["action"] == "create" for c in changes), changes
        assert deploy["nodes"][node]["check"] is True
        assert deploy["nodes"][node]["changed"] is True  # would change (Ansible's convention)

    # --diff: before/after per item, the new file content in full, SCH-2 visible on node-b.
    out = run.output
    assert "--- before: node-a: file C:\\clpbackup\\local-daily.bat (absent)" in out
    assert "+++ after: node-a: file C:\\clpbackup\\local-daily.bat (clpbackup)" in out
    assert re.search(r"^\+wbadmin start backup -backupTarget:\\\\nas01\\backup\\node-b ", out, re.MULTILINE)
    assert "+++ after: node-b: schedule clpbackup-prod-db-shared-daily (clpbackup)" in out
    assert '+daily 04:15 cmd /c "C:\\clpbackup\\shared-daily.bat"' in out
    assert '+daily 03:00 cmd /c "C:\\clpbackup\\shared-daily.bat"' in out
    headers = [(d["before_header"], d["after_header"]) for d in deploy["diff"]]
    assert (
        "node-b: file C:\\clpbackup\\failover.bat (absent)",
        "node-b: file C:\\clpbackup\\failover.bat (clpbackup)",
    ) in headers

    # Nothing was written: a status that really ran sees every file and schedule missing.
    assert status["changed"] is False
    assert status["ok"] is False
    for node in ("node-a", "node-b"):
        states = {s["name"]: s["state"] for s in status["nodes"][node]["schedules"]}
        assert states == {
            "clpbackup-prod-db-local-daily": "missing",
            "clpbackup-prod-db-shared-daily": "missing",
        }
        assert set(status["nodes"][node]["files"].values()) == {"missing"}
    assert any("SCH-1" in p and "missing" in p for p in status["problems"])


def test_deploy_twice_changes_once(sim: Sim) -> None:
    """The example playbook, unchanged: changed on the first run, nothing on the second (IDEM-1)."""
    deploy_yml = EXAMPLES / "deploy.yml"
    first = _run(sim, deploy_yml, "-e", f"clpbackup_plan={sim.plan}")
    assert first.rc == 0, first.output
    assert re.search(r"^changed: \[localhost\]", first.output, re.MULTILINE), first.output
    assert recap(first.output)["changed"] == 1
    assert "deploy: node-a: changed 6 item(s); node-b: changed 6 item(s)" in first.output

    second = _run(sim, deploy_yml, "-e", f"clpbackup_plan={sim.plan}")
    assert second.rc == 0, second.output
    assert recap(second.output)["changed"] == 0
    assert "deploy: node-a: no change; node-b: no change" in second.output

    status = playbook(sim, [task("status", plan=str(sim.plan), state="status")]).results["status"]
    assert status["ok"] is True, status["problems"]
    assert status["nodes"]["node-a"]["owner"] is True
    assert status["nodes"]["node-b"]["owner"] is False
    at = {s["name"]: s["at"] for s in status["nodes"]["node-b"]["schedules"] if s["state"] == "matching"}
    assert at == {"clpbackup-prod-db-local-daily": "01:00", "clpbackup-prod-db-shared-daily": "04:15"}


def test_example_status_playbook_passes_on_deployed_nodes(sim: Sim) -> None:
    run = _run(sim, EXAMPLES / "status.yml", "-e", f"clpbackup_plan={sim.plan}")
    assert run.rc == 0, run.output
    line = "node-a (owns the switchover partition): clpbackup-prod-db-local-daily matching at 01:00"
    assert line in run.output
    assert "both nodes are as the plan says" in run.output


def test_password_never_shown_at_vvv(sim: Sim) -> None:
    secrets = sim.dir / "secrets.yml"  # stands for an Ansible Vault file
    secrets.write_text(f"clp_password: {json.dumps(PASSWORD)}\nclp_wrong: {json.dumps(WRONG_PASSWORD)}\n")
    # Without the environment variable: the password option (no_log), a wrong one, and none at all.
    run = playbook(
        sim,
        [
            task("with_option", plan=str(sim.plan), state="status", password="{{ clp_password }}"),
            task("wrong", plan=str(sim.plan), state="status", password="{{ clp_wrong }}", ignore_errors=True),
            task("no_source", plan=str(sim.plan), state="status", ignore_errors=True),
        ],
        "-vvv",
        password=False,
        play={"vars_files": [str(secrets)]},
    )
    assert run.rc == 0, run.output
    r = run.results
    assert r["with_option"]["ok"] is True and not r["with_option"]["failed_nodes"]
    assert r["wrong"]["failed"] is True
    assert r["wrong"]["failed_nodes"] == ["node-a", "node-b"]
    assert {v["error"]["type"] for v in r["wrong"]["nodes"].values()} == {"AuthenticationFailed"}
    assert r["no_source"]["failed"] is True
    assert "CLPBACKUP_PASSWORD" in r["no_source"]["msg"] and "password option" in r["no_source"]["msg"]
    # -vvv does print the module's arguments and results; the password is masked in them.
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.output
    assert '"module_args"' in run.output
    assert PASSWORD not in run.output
    assert WRONG_PASSWORD not in run.output

    # With the environment variable the plan names (exported before ansible-playbook).
    run = playbook(sim, [task("from_env", plan=str(sim.plan), state="status")], "-vvv")
    assert run.rc == 0, run.output
    assert run.results["from_env"]["ok"] is True
    assert "EXEC /bin/sh -c" in run.output  # -vvv shows the command lines Ansible runs
    assert PASSWORD not in run.output


def test_one_node_failing_fails_the_task_with_both_results(sim: Sim) -> None:
    def node_b_down(data: dict[str, Any]) -> None:
        data["nodes"][1].setdefault("connection", {})["port"] = closed_port()

    def node_b_codepage(data: dict[str, Any]) -> None:
        data["nodes"][1].setdefault("connection", {})["codepage"] = 932

    down = write_plan(sim, "node-b-down.yaml", node_b_down)
    cp932 = write_plan(sim, "node-b-cp932.yaml", node_b_codepage)
    run = playbook(
        sim,
        [
            task("codepage", plan=str(cp932), state="deployed", ignore_errors=True),
            task("down", plan=str(down), state="deployed"),
        ],
    )
    assert run.rc == 2, run.output  # ansible-playbook: a task failed
    assert recap(run.output)["failed"] == 1

    down_r = run.results["down"]
    assert down_r["failed"] is True
    assert down_r["failed_nodes"] == ["node-b"]
    assert down_r["nodes"]["node-b"]["ok"] is False
    assert down_r["nodes"]["node-b"]["error"]["type"] == "ConnectionFailed"
    # node-a's result is there too: deployed, nothing to change.
    assert down_r["nodes"]["node-a"]["kind"] == "DeployResult"
    assert down_r["nodes"]["node-a"]["ok"] is True
    assert down_r["nodes"]["node-a"]["changed"] is False
    assert down_r["msg"].startswith("deploy failed on node-b: node-b: ConnectionFailed: ")
    assert "node-a: no change" in down_r["msg"]
    assert "what to do: the node answered but no WinRM listener is on TCP" in down_r["msg"]
    assert re.search(r"^fatal: \[localhost\]: FAILED! => .*\"node-a\".*\"node-b\"", run.output, re.MULTILINE)

    cp = run.results["codepage"]
    assert cp["failed"] is True
    assert cp["failed_nodes"] == ["node-b"]
    assert cp["nodes"]["node-b"]["error"]["type"] == "PreflightFailed"
    assert cp["nodes"]["node-b"]["error"]["rule"] == "CODEPAGE"
    assert "node-b: PreflightFailed [CODEPAGE]: the node's OEM code page is 437" in cp["msg"]
    assert cp["nodes"]["node-a"]["ok"] is True


def test_invalid_plan_fails_naming_the_rule_and_does_nothing(sim: Sim) -> None:
    def target_on_switchover(data: dict[str, Any]) -> None:
        data["jobs"]["shared-daily"]["target"] = "E:"  # WSB-2

    bad = write_plan(sim, "wsb2.yaml", target_on_switchover)
    run = playbook(
        sim,
        [
            # The plan given inline, as a dictionary.
            task("bad", plan="{{ lookup('file', '" + str(bad) + "') | from_yaml }}", ignore_errors=True),
            task("missing", plan=str(sim.dir / "no-such-plan.yaml"), ignore_errors=True),
            task("after", plan=str(sim.plan), state="status"),
        ],
    )
    assert run.rc == 0, run.output
    bad_r = run.results["bad"]
    assert bad_r["failed"] is True
    assert "WSB-2" in bad_r["msg"] and "nothing was done on any node" in bad_r["msg"]
    assert any(f["rule"] == "WSB-2" and f["severity"] == "error" for f in bad_r["findings"])
    missing = run.results["missing"]
    assert missing["failed"] is True
    assert missing["msg"].startswith(f"{sim.dir / 'no-such-plan.yaml'}: cannot read the plan: cannot read")
    assert "No such file" in missing["msg"]
    assert run.results["after"]["ok"] is True  # the nodes are as they were


def test_failover_check_mode_changes_nothing_then_real_runs_schedule_once(sim: Sim) -> None:
    run = playbook(
        sim,
        [
            task("check", plan=str(sim.plan), state="failover_backup", check_mode=True),
            task("first", plan=str(sim.plan), state="failover_backup"),
            task("again", plan=str(sim.plan), state="failover_backup"),
            # The failover one-shot (06:00) is still waiting: a failback would replace it (same task
            # name), so it is refused without replace and names what it replaces with it.
            task("failback_refused", plan=str(sim.plan), state="failback_backup", ignore_errors=True),
            task("failback", plan=str(sim.plan), state="failback_backup", replace=True),
            task(
                "node_refused", plan=str(sim.plan), state="failover_backup", node="node-b", ignore_errors=True
            ),
        ],
        "--diff",
    )
    assert run.rc == 0, run.output
    r = run.results
    check = r["check"]
    assert check["changed"] is True, check  # the real run would schedule it
    assert check["nodes"]["node-a"]["action"].startswith("would be scheduled at 06:00"), check
    assert check["nodes"]["node-b"]["action"] == "not the owner: nothing to do"

    # The check created nothing: the first real run schedules the one-shot (FO-2) on the owner.
    first = r["first"]
    assert first["changed"] is True, first
    assert first["nodes"]["node-a"]["action"].startswith("scheduled at 06:00")
    assert first["nodes"]["node-b"]["action"] == "not the owner: nothing to do"
    assert list(first["nodes"]) == ["node-a", "node-b"]
    assert "+++ after: node-a: one-shot backup of shared-daily" in run.output

    again = r["again"]
    assert again["changed"] is False
    assert again["nodes"]["node-a"]["action"].startswith("already scheduled at 06:00")

    refused = r["failback_refused"]
    assert refused["failed"] is True and refused["changed"] is False, refused
    assert refused["nodes"]["node-a"]["action"] == "refused"
    assert "clpbackup-prod-db-shared-daily-once at 06:00" in refused["msg"], refused["msg"]
    failback = r["failback"]
    assert failback["changed"] is True
    assert failback["nodes"]["node-a"]["action"].startswith("started now")
    assert failback["nodes"]["node-a"]["replaced"].startswith("clpbackup-prod-db-shared-daily-once at 06:00")

    assert r["node_refused"]["failed"] is True
    assert "node is not accepted with state=failover_backup" in r["node_refused"]["msg"]


def test_missing_libraries_are_named(sim: Sim, tmp_path: Path) -> None:
    """A Python without clpbackup, and one with clpbackup but without pypsrp."""
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    no_psrp = tmp_path / "no-psrp"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(no_psrp)], check=True)
    site = next(no_psrp.glob("lib/python3*/site-packages"))
    (site / "clpbackup-source.pth").write_text(str(ROOT) + "\n")  # clpbackup only, none of its deps
    run = playbook(
        sim,
        [
            task(
                "no_clpbackup",
                plan=str(sim.plan),
                state="status",
                ignore_errors=True,
                vars={"ansible_python_interpreter": str(bare / "bin" / "python")},
            ),
            task(
                "no_pypsrp",
                plan=str(sim.plan),
                state="status",
                ignore_errors=True,
                vars={"ansible_python_interpreter": str(no_psrp / "bin" / "python")},
            ),
        ],
    )
    assert run.rc == 0, run.output
    assert run.results["no_clpbackup"]["failed"] is True
    assert "Failed to import the required Python library (clpbackup)" in run.results["no_clpbackup"]["msg"]
    assert run.results["no_pypsrp"]["failed"] is True
    assert "Failed to import the required Python library (pypsrp)" in run.results["no_pypsrp"]["msg"]


def test_state_absent_check_mode_and_diff_then_uninstalls_exactly_what_the_record_lists(sim: Sim) -> None:
    run = playbook(
        sim,
        [
            task("deploy", plan=str(sim.plan), state="deployed"),
            task("check", plan=str(sim.plan), state="absent", check_mode=True),
            task("absent", plan=str(sim.plan), state="absent"),
            task("again", plan=str(sim.plan), state="absent"),
        ],
        "--diff",
    )
    assert run.rc == 0, run.output
    r = run.results
    assert r["check"]["changed"] is True and r["check"]["operation"] == "deploy --state absent --check"
    assert "+++ after: node-a: schedule clpbackup-prod-db-local-daily (deleted)" in run.output
    assert "+++ after: node-a: file C:\\clpbackup\\local-daily.bat (deleted)" in run.output
    assert r["absent"]["changed"] is True and r["absent"]["operation"] == "deploy --state absent"
    assert r["again"]["changed"] is False
