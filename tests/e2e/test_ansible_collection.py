"""The collection ``clpbackup.cluster``, built and installed from its tarball, through real Ansible.

``ansible-galaxy collection build`` packs ``ansible_collections/clpbackup/cluster``;
``ansible-galaxy collection install`` unpacks the tarball into a temporary collections path, the only
one Ansible searches here (``ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false``, so the source tree is never
used). ``ansible-playbook`` then calls the modules by their FQCN against one ``clpbackup simulate``
process (two Windows Server 2012 nodes). The tests share the nodes and run in file order.

``ansible-test sanity`` (validate-modules and the other tests that run offline) checks the installed
collection; DOCUMENTATION, the argument specs and RETURN are kept true by it. The ansible-doc test
also compares each module's rendered options (the doc fragment ``clpbackup.cluster.common`` merged in)
with its argument spec, both ways.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.test_ansible import _ansible_playbook, _wait_for_plan

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "ansible_collections" / "clpbackup" / "cluster"
EXAMPLE_PLAN = ROOT / "examples" / "plans" / "ws2012-wsb.yaml"
PASSWORD_ENV = "CLPBACKUP_PASSWORD"
PASSWORD = "Zq7-collection-s3cret!"  # distinctive: finding it in any output means a leak
_runs = count(1)


@dataclass
class Coll:
    dir: Path
    plan: Path
    inventory: Path
    collections: Path  # the temporary collections path the tarball was installed into
    installed: Path  # .../ansible_collections/clpbackup/cluster
    bin: Path  # the folder of ansible-playbook, ansible-galaxy, ansible-doc, ansible-test


@dataclass
class Run:
    rc: int
    output: str
    results: dict[str, Any]


def _env(c: Coll, *, password: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.pop(PASSWORD_ENV, None)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(c.collections),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_HOME": str(c.dir / "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": str(c.dir / "ansible-tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_STDOUT_CALLBACK": "default",
            "LC_ALL": "C.UTF-8",
        }
    )
    if password:
        env[PASSWORD_ENV] = PASSWORD
    return env


@pytest.fixture(scope="module")
def coll(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coll]:
    tmp = tmp_path_factory.mktemp("collection")
    bindir = Path(_ansible_playbook()).parent
    dist, collections = tmp / "dist", tmp / "collections"
    subprocess.run(
        [str(bindir / "ansible-galaxy"), "collection", "build", str(SOURCE), "--output-path", str(dist)],
        check=True,
        capture_output=True,
        cwd=tmp,
    )
    (tarball,) = dist.glob("clpbackup-cluster-*.tar.gz")
    subprocess.run(
        [str(bindir / "ansible-galaxy"), "collection", "install", str(tarball), "-p", str(collections)],
        check=True,
        capture_output=True,
        cwd=tmp,
        env={**os.environ, "ANSIBLE_HOME": str(tmp / "ansible-home")},
    )
    installed = collections / "ansible_collections" / "clpbackup" / "cluster"
    assert (installed / "MANIFEST.json").is_file()  # unpacked from the tarball, not the source tree

    plan, log = tmp / "plan.yaml", tmp / "simulate.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "clpbackup", "simulate", str(EXAMPLE_PLAN), "--write-plan", str(plan)],
            env={**os.environ, PASSWORD_ENV: PASSWORD},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
    try:
        _wait_for_plan(proc, plan, log)
        inventory = tmp / "inventory.ini"
        inventory.write_text(
            f"[clusters]\nprod-db ansible_connection=local ansible_python_interpreter={sys.executable}\n",
            encoding="utf-8",
        )
        yield Coll(tmp, plan, inventory, collections, installed, bindir)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def playbook(c: Coll, tasks: list[dict[str, Any]], *args: str, password: bool = True) -> Run:
    """Run ``tasks`` as one play on the cluster host; every registered variable comes back."""
    n = next(_runs)
    out = c.dir / f"results-{n}.json"
    names = [t["register"] for t in tasks if "register" in t]
    saved = "{{ {" + ", ".join(f"'{r}': {r} | default(None)" for r in names) + "} | to_json }}"
    body = {
        "name": "collection test play",
        "hosts": "clusters",
        "gather_facts": False,
        "tasks": [
            {
                "block": tasks,
                "always": [
                    {
                        "ansible.builtin.copy": {"content": saved, "dest": str(out)},
                        "check_mode": False,
                        "diff": False,
                    }
                ],
            }
        ],
    }
    path = c.dir / f"playbook-{n}.yml"
    path.write_text(yaml.safe_dump([body], sort_keys=False), encoding="utf-8")
    proc = subprocess.run(
        [str(c.bin / "ansible-playbook"), "-i", str(c.inventory), str(path), *args],
        env=_env(c, password=password),
        cwd=c.dir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    data = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return Run(proc.returncode, proc.stdout + proc.stderr, data)


def task(module: str, register: str, **options: Any) -> dict[str, Any]:
    extra = {k: options.pop(k) for k in ("ignore_errors", "check_mode", "vars") if k in options}
    return {"name": register, f"clpbackup.cluster.{module}": options, "register": register, **extra}


# -- the tests, in file order ------------------------------------------------------------------------


# The argument-spec keys the documentation repeats, with the value each side means when it leaves the
# key out. no_log has no documentation key: a no_log option says C(no_log) in its description, and
# only a no_log option does.
DOCUMENTED_SPEC_KEYS = {"type": "str", "default": None, "choices": None, "required": False,
                        "elements": None, "aliases": None}


def doc_spec_disagreements(options: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """Where a module's documented options (as ansible-doc renders them, fragments merged) and its
    argument spec disagree, one line each; empty when they agree."""
    found = [f"{n}: in the argument spec, not documented" for n in spec if n not in options]
    found += [f"{n}: documented, not in the argument spec" for n in options if n not in spec]
    for name in sorted(set(spec) & set(options)):
        arg, doc = spec[name], options[name]
        unknown = set(arg) - set(DOCUMENTED_SPEC_KEYS) - {"no_log"}
        if unknown:  # a key this check would silently skip (fallback, suboptions ...): teach it first
            found.append(f"{name}: argument spec keys this check does not compare: {sorted(unknown)}")
        for key, absent in DOCUMENTED_SPEC_KEYS.items():
            if arg.get(key, absent) != doc.get(key, absent):
                found.append(f"{name}: {key} is {arg.get(key, absent)!r} in the argument spec, "
                             f"{doc.get(key, absent)!r} in the documentation")
        description = doc.get("description", [])
        text = " ".join(description) if isinstance(description, list) else str(description)
        if ("C(no_log)" in text) != bool(arg.get("no_log")):
            found.append(f"{name}: no_log is {bool(arg.get('no_log'))} in the argument spec, but the "
                         f"description {'says' if 'C(no_log)' in text else 'does not say'} C(no_log)")
    return found


def _load_installed(c: Coll, relative: str) -> Any:
    """A Python file of the installed collection, loaded by path (ansible_collections is a namespace
    package there; the modules' module_utils import needs the collections path on sys.path)."""
    import importlib.util

    path = c.installed / relative
    sys.path.insert(0, str(c.collections))
    try:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(c.collections))
    return mod


@pytest.mark.parametrize("module", ["backup_plan", "backup_info", "backup_run"])
def test_ansible_doc_finds_the_installed_module_by_fqcn(coll: Coll, module: str) -> None:
    """ansible-doc without -M: the documented options, the doc fragment clpbackup.cluster.common
    merged in, agree with the module's ARGUMENT_SPEC both ways (type, default, choices, required,
    elements, aliases, no_log), and the shared options and platform attribute are the fragment's."""
    doc = subprocess.run(
        [str(coll.bin / "ansible-doc"), "--json", f"clpbackup.cluster.{module}"],
        env=_env(coll),
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(doc.stdout)[f"clpbackup.cluster.{module}"]["doc"]
    assert Path(info["filename"]).resolve().is_relative_to(coll.installed.resolve()), info["filename"]
    mod = _load_installed(coll, f"plugins/modules/{module}.py")
    assert doc_spec_disagreements(info["options"], mod.ARGUMENT_SPEC) == []
    assert info["attributes"]["check_mode"]["support"] == "full"
    fragment = _load_installed(coll, "plugins/doc_fragments/common.py").ModuleDocFragment
    shared = yaml.safe_load(fragment.DOCUMENTATION)
    assert set(shared["options"]) == set(mod.PLAN_OPTIONS)  # the options every module shares
    for name, option in shared["options"].items():
        assert info["options"][name] == option, name  # the fragment's text, not a module's own
    assert info["requirements"] == shared["requirements"]
    platform = yaml.safe_load(fragment.ATTRIBUTES)["attributes"]["platform"]
    assert platform.items() <= info["attributes"]["platform"].items()


def test_plan_check_then_changed_then_unchanged(coll: Coll) -> None:
    plan = str(coll.plan)
    run = playbook(
        coll,
        [
            task("backup_plan", "check", plan=plan, check_mode=True),
            task("backup_info", "info_in_check", plan=plan, check_mode=True),
            task("backup_plan", "first", plan=plan),
            task("backup_plan", "second", plan=plan),
            task("backup_info", "info", plan=plan),
        ],
        "--diff",
    )
    assert run.rc == 0, run.output
    r = run.results
    assert r["check"]["changed"] is True and r["check"]["operation"] == "deploy --check"
    assert all(c["action"] == "create" for n in r["check"]["nodes"].values() for c in n["changes"])
    assert "+++ after: node-a: file C:\\clpbackup\\local-daily.bat (clpbackup)" in run.output
    # the check wrote nothing: status (read-only, allowed in check mode) sees every schedule missing
    info0 = r["info_in_check"]
    assert info0["changed"] is False and info0["ok"] is False
    assert {s["state"] for n in info0["nodes"].values() for s in n["schedules"]} == {"missing"}
    assert r["first"]["changed"] is True
    assert "deploy: node-a: changed 6 item(s); node-b: changed 6 item(s)" == r["first"]["msg"]
    assert r["second"]["changed"] is False
    assert r["second"]["msg"] == "deploy: node-a: no change; node-b: no change"
    info = r["info"]
    assert info["ok"] is True, info["problems"]
    assert info["nodes"]["node-a"]["owner"] is True and info["nodes"]["node-b"]["owner"] is False
    assert info["nodes"]["node-a"]["events"] == []  # ALERT-1: no failure raised yet


def test_backup_run_check_mode_then_real(coll: Coll) -> None:
    plan = str(coll.plan)
    run = playbook(
        coll,
        [
            task("backup_run", "now_check", plan=plan, action="now", job="shared-daily", check_mode=True),
            task("backup_run", "fo_check", plan=plan, action="failover", check_mode=True),
            task("backup_run", "fo", plan=plan, action="failover"),
            task("backup_run", "fo_again", plan=plan, action="failover"),
            task("backup_run", "now", plan=plan, action="now", job="local-daily", timeout=120),
            task("backup_run", "bad", plan=plan, action="failover", node="node-b", ignore_errors=True),
        ],
    )
    assert run.rc == 0, run.output
    r = run.results
    # a switchover job would start on the owner only (JOB-3), and nothing started
    assert r["now_check"]["changed"] is True and r["now_check"]["would_run_on"] == ["node-a"]
    assert r["fo_check"]["changed"] is True
    assert r["fo_check"]["nodes"]["node-a"]["action"].startswith("would be scheduled at 06:00")
    assert r["fo"]["changed"] is True
    assert r["fo"]["nodes"]["node-a"]["action"].startswith("scheduled at 06:00")
    assert r["fo_again"]["changed"] is False
    now = r["now"]
    assert now["changed"] is True and now["operation"] == "run"
    assert {n["outcome"] for n in now["nodes"].values()} == {"success"}, now
    assert r["bad"]["failed"] is True and "only for action=now" in r["bad"]["msg"]


def test_backup_run_drill_check_then_real_then_refused_on_the_standby(coll: Coll) -> None:
    """DRILL-1 through ansible-playbook: check mode lists the commands and runs nothing, the drill of
    local-daily (run by the test above) passes on both nodes, a switchover drill on the standby fails
    the task with RS-1 in its message."""
    plan = str(coll.plan)
    run = playbook(
        coll,
        [
            task("backup_run", "drill_check", plan=plan, action="drill", job="local-daily", check_mode=True),
            task("backup_run", "drill", plan=plan, action="drill", job="local-daily", timeout=120),
            task("backup_run", "standby", plan=plan, action="drill", job="shared-daily", node="node-b",
                 ignore_errors=True),
        ],
    )
    assert run.rc == 0, run.output
    r = run.results
    check = r["drill_check"]
    assert check["operation"] == "drill --check" and check["changed"] is False
    drills = [d for n in check["nodes"].values() for d in n["drills"]]
    assert len(drills) == 2 and all(d["verdict"] == "would-run" and d["commands"] for d in drills)
    real = r["drill"]
    assert real["changed"] is True and real["msg"].startswith("drill: local-daily: pass")
    assert {d["verdict"] for n in real["nodes"].values() for d in n["drills"]} == {"pass"}
    assert r["standby"]["failed"] is True and "RS-1" in r["standby"]["msg"]


def test_every_module_fails_a_plan_that_breaks_a_rule_with_its_findings(coll: Coll) -> None:
    """The ``findings`` return value each module documents: a plan whose share job targets the
    switchover volume (WSB-2) fails backup_plan, backup_info and backup_run before any node is
    contacted, each with the finding naming the rule and the field; the cluster is untouched."""
    bad = coll.dir / "plan-wsb2.yaml"
    text = coll.plan.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["jobs"]["local-daily"]["target"] = data["cluster"]["switchover_volumes"][0]
    bad.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    plan = str(bad)
    run = playbook(
        coll,
        [
            task("backup_info", "before", plan=str(coll.plan)),
            task("backup_plan", "deploy", plan=plan, ignore_errors=True),
            task("backup_info", "info", plan=plan, ignore_errors=True),
            task("backup_run", "run", plan=plan, action="now", job="local-daily", ignore_errors=True),
            task("backup_info", "after", plan=str(coll.plan)),
        ],
    )
    assert run.rc == 0, run.output
    r = run.results
    for name in ("deploy", "info", "run"):
        assert r[name]["failed"] is True, (name, r[name])
        found = r[name]["findings"]
        assert any(f["rule"] == "WSB-2" and f["severity"] == "error" for f in found), (name, found)
        assert "nodes" not in r[name], (name, r[name])  # no node was contacted

    def schedules(info: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
        nodes = info["nodes"].items()
        return {n: sorted((x["name"], x["state"]) for x in node["schedules"]) for n, node in nodes}

    assert schedules(r["after"]) == schedules(r["before"])


def test_state_absent(coll: Coll) -> None:
    from clpbackup.ansible import clpbackup_cluster

    plan = str(coll.plan)
    if "absent" not in clpbackup_cluster.STATES:
        # clpbackup without an uninstall: the task fails saying so, and nothing changes.
        run = playbook(
            coll,
            [
                task("backup_plan", "absent", plan=plan, state="absent", ignore_errors=True),
                task("backup_info", "after", plan=plan),
            ],
        )
        assert run.rc == 0, run.output
        assert run.results["absent"]["failed"] is True
        assert "state=absent is not available in this version of clpbackup" in run.results["absent"]["msg"]
        assert run.results["after"]["ok"] is True
        return
    run = playbook(
        coll,
        [
            task("backup_plan", "check", plan=plan, state="absent", check_mode=True),
            task("backup_plan", "absent", plan=plan, state="absent"),
            task("backup_plan", "again", plan=plan, state="absent"),
            task("backup_info", "after", plan=plan),
            task("backup_plan", "redeploy", plan=plan),
        ],
    )
    assert run.rc == 0, run.output
    r = run.results
    assert r["check"]["changed"] is True
    assert r["absent"]["changed"] is True
    assert r["again"]["changed"] is False
    # The plan's daily schedules are gone (the failover one-shot backup_run scheduled above is reported
    # apart, as state one-shot).
    daily = {s["name"]: s["state"] for n in r["after"]["nodes"].values() for s in n["schedules"]}
    daily = {k: v for k, v in daily.items() if v != "one-shot"}
    assert daily == {"clpbackup-prod-db-local-daily": "missing", "clpbackup-prod-db-shared-daily": "missing"}
    assert r["redeploy"]["changed"] is True


def test_password_never_shown_at_vvv(coll: Coll) -> None:
    # The password from a variable (as from Ansible Vault), not the environment the plan names.
    tasks = [
        task(
            "backup_info",
            "info",
            plan=str(coll.plan),
            password="{{ clp_password }}",
            vars={"clp_password": PASSWORD},
        )
    ]
    run = playbook(coll, tasks, "-vvv", password=False)
    assert run.rc == 0, run.output
    assert run.results["info"]["ok"] is True
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.output
    assert PASSWORD not in run.output


def test_missing_clpbackup_is_named(coll: Coll, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    run = playbook(
        coll,
        [
            task(
                "backup_info",
                "no_clpbackup",
                plan=str(coll.plan),
                ignore_errors=True,
                vars={"ansible_python_interpreter": str(bare / "bin" / "python")},
            )
        ],
    )
    assert run.rc == 0, run.output
    msg = run.results["no_clpbackup"]["msg"]
    assert "Failed to import the required Python library (clpbackup)" in msg
    assert "to run clpbackup.cluster.backup_info" in msg


def _ansible_test_home() -> Path:
    """A HOME for ansible-test whose pip bootstrap works offline (tests/helpers/get_pip_offline.py).

    Kept between runs so that the sanity virtual environments are built once per machine.
    """
    import ansible_test

    home = Path(tempfile.gettempdir()) / "clpbackup-ansible-test-home"
    cache = home / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    source = (Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
    shim = (ROOT / "tests" / "helpers" / "get_pip_offline.py").read_text()
    for version in set(re.findall(r"pip='([\d.]+)'", source)):
        (cache / f"get_pip_{version.replace('.', '_')}.py").write_text(shim)
    return home


# Sanity tests that need what this machine lacks: PowerShell (pslint), shellcheck, the changelog
# tool (the collection keeps no changelog fragments).
OFFLINE_SKIP = ("pslint", "shellcheck", "changelog")


def test_ansible_test_sanity(coll: Coll) -> None:
    env = {**_env(coll), "HOME": str(_ansible_test_home())}
    skips = [a for t in OFFLINE_SKIP for a in ("--skip-test", t)]
    proc = subprocess.run(
        [
            str(coll.bin / "ansible-test"),
            "sanity",
            "--local",
            "--python",
            f"{sys.version_info.major}.{sys.version_info.minor}",
            *skips,
        ],
        cwd=coll.installed,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert 'Running sanity test "validate-modules"' in out


def test_fleet_playbook_with_forks(coll: Coll, monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/ansible/fleet/fleet.yml on three simulated clusters (served in this process), forks 3:
    every cluster deployed and reported, then a second run changes none."""
    from clpbackup import Plan
    from clpbackup.testing import SimulatedCluster

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    base = yaml.safe_load(EXAMPLE_PLAN.read_text(encoding="utf-8"))
    sims = [SimulatedCluster.from_plan(Plan.from_file(EXAMPLE_PLAN)) for _ in range(3)]
    lines = ["[clusters]"]
    try:
        for i, sim in enumerate(sims, 1):
            sim.start()
            data = json.loads(json.dumps(base))
            for node in data["nodes"]:
                port = next(n.server.port for n in sim.nodes if n.name == node["name"])
                node["host"] = "127.0.0.1"
                node.setdefault("connection", {})["port"] = port
            plan = coll.dir / f"fleet-{i}.yaml"
            plan.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            lines.append(f"cluster-{i} clpbackup_plan={plan}")
        lines += [
            "[clusters:vars]",
            "ansible_connection=local",
            f"ansible_python_interpreter={sys.executable}",
        ]
        inventory = coll.dir / "fleet.ini"
        inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")
        fleet = ROOT / "examples" / "ansible" / "fleet" / "fleet.yml"
        cmd = [str(coll.bin / "ansible-playbook"), "-i", str(inventory), str(fleet), "-f", "3"]
        for expect_changed in (1, 0):
            proc = subprocess.run(
                cmd, env=_env(coll), cwd=coll.dir, capture_output=True, text=True, timeout=600
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
            recap = dict(re.findall(r"^(cluster-\d)\s*:\s*ok=\d+\s+changed=(\d+)", proc.stdout, re.MULTILINE))
            assert recap == {f"cluster-{i}": str(expect_changed) for i in (1, 2, 3)}, proc.stdout
    finally:
        for sim in sims:
            sim.stop()
