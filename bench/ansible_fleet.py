#!/usr/bin/env python3
"""A fleet of simulated clusters through Ansible: wall time per ``forks``, overhead, controller memory.

One host process (``bench/run.py _fleet-host N 0``) serves N simulated two-node clusters on 127.0.0.1;
this script writes one plan per cluster and an inventory of N hosts, builds the collection
``clpbackup.cluster`` and installs it from its tarball into a temporary collections path, then times
``ansible-playbook examples/ansible/fleet/fleet.yml`` at each ``forks`` value:

* ``deploy``  — ``backup_plan`` on every cluster: the first run changes every cluster (fresh nodes,
  forks of the first value only); the later ones are no-op deploys (IDEM-1), what a scheduled
  enforcement run does;
* ``status``  — ``backup_info`` on every cluster.

Against it, the same status over the same clusters through the Python API (``ClusterBackup.status``,
one cluster at a time, in this process): the difference per cluster at forks 1 is what Ansible adds
(a forked worker, an AnsiballZ module process, its imports, the result's JSON).

Peak controller memory is the highest sum of resident memory of ``ansible-playbook`` and all its
descendants (workers and module processes), sampled every 50 ms from /proc.

    python bench/ansible_fleet.py                    # 50 clusters, forks 1 5 10 20
    python bench/ansible_fleet.py --clusters 10 --forks 1 5 --markdown
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PLAN_FILE = ROOT / "examples" / "plans" / "ws2012-wsb.yaml"
PLAYBOOK = ROOT / "examples" / "ansible" / "fleet" / "fleet.yml"
COLLECTION = ROOT / "ansible_collections" / "clpbackup" / "cluster"
PASSWORD_ENV = "CLPBACKUP_PASSWORD"


def log(msg: str) -> None:
    print(f"[fleet] {msg}", file=sys.stderr, flush=True)


def _tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants (MB), from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            pid, ppid, pages = int(entry), int(fields[1]), int(fields[21])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(pid)
        rss[pid] = pages
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_playbook(cmd: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    peak = 0.0
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_mb(proc.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"ansible-playbook failed ({proc.returncode}):\n{out[-4000:]}")
    recap = [line for line in out.splitlines() if " : ok=" in line]
    changed = sum(int(line.split("changed=")[1].split()[0]) > 0 for line in recap)
    return {"s": round(wall, 2), "peak_mb": round(peak, 1), "hosts": len(recap), "changed_hosts": changed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clusters", type=int, default=50)
    ap.add_argument("--forks", type=int, nargs="+", default=[1, 5, 10, 20])
    ap.add_argument("--markdown", action="store_true", help="print the table of bench/RESULTS.md")
    args = ap.parse_args()
    os.environ.setdefault(PASSWORD_ENV, "bench-Password1")
    bindir = Path(sys.executable).parent
    tmp = Path(tempfile.mkdtemp(prefix="clpbackup-fleet-"))

    log(f"building and installing the collection into {tmp}")
    subprocess.run(
        [str(bindir / "ansible-galaxy"), "collection", "build", str(COLLECTION), "--output-path", str(tmp)],
        check=True,
        capture_output=True,
    )
    (tarball,) = tmp.glob("clpbackup-cluster-*.tar.gz")
    subprocess.run(
        [
            str(bindir / "ansible-galaxy"),
            "collection",
            "install",
            str(tarball),
            "-p",
            str(tmp / "collections"),
        ],
        check=True,
        capture_output=True,
    )

    log(f"starting {args.clusters} simulated clusters")
    host = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "run.py"), "_fleet-host", str(args.clusters), "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert host.stdout is not None and host.stdin is not None
    endpoints: list[dict[str, int]] = json.loads(host.stdout.readline())
    try:
        base = yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8"))
        lines = ["[clusters]"]
        for i, ports in enumerate(endpoints, 1):
            data = json.loads(json.dumps(base))
            for node in data["nodes"]:
                node["host"] = "127.0.0.1"
                node.setdefault("connection", {})["port"] = ports[node["name"]]
            plan = tmp / f"cluster-{i:03}.yaml"
            plan.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            lines.append(f"cluster-{i:03} clpbackup_plan={plan}")
        lines += [
            "",
            "[clusters:vars]",
            "ansible_connection=local",
            f"ansible_python_interpreter={sys.executable}",
        ]
        inventory = tmp / "inventory.ini"
        inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")

        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(
            ANSIBLE_COLLECTIONS_PATH=str(tmp / "collections"),
            ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
            ANSIBLE_HOME=str(tmp / "ansible-home"),
            ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-tmp"),
            ANSIBLE_HOST_KEY_CHECKING="false",
            ANSIBLE_NOCOLOR="1",
            LC_ALL="C.UTF-8",
        )

        def playbook(op: str, forks: int) -> dict[str, Any]:
            cmd = [str(bindir / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK), "-f", str(forks)]
            # deploy alone: the playbook's status task is measured on its own
            extra = {"clpbackup_op": "status"} if op == "status" else {"clpbackup_op": "deploy_only"}
            r = run_playbook([*cmd, "-e", json.dumps(extra)], env, tmp)
            log(f"{op} forks={forks}: {r}")
            return r

        results: dict[str, Any] = {"clusters": args.clusters, "cpus": os.cpu_count(), "runs": []}
        first = playbook("deploy", args.forks[-1])
        assert first["changed_hosts"] == args.clusters, first
        results["first_deploy"] = {"forks": args.forks[-1], **first}
        for forks in args.forks:
            results["runs"].append(
                {
                    "forks": forks,
                    "deploy_noop": playbook("deploy", forks),
                    "status": playbook("status", forks),
                }
            )

        from clpbackup import ClusterBackup, Plan

        plans = [Plan.from_file(tmp / f"cluster-{i:03}.yaml") for i in range(1, args.clusters + 1)]
        start = time.perf_counter()
        for p in plans:
            with ClusterBackup(p) as cb:
                assert cb.status().ok
        api = time.perf_counter() - start
        results["api_status_serial_s"] = round(api, 2)
        log(f"Python API, status of {args.clusters} clusters one at a time: {api:.2f} s")
    finally:
        host.stdin.close()
        host.wait(timeout=60)

    if args.markdown:
        print(markdown(results))
    else:
        print(json.dumps(results, indent=1))
    return 0


def markdown(r: dict[str, Any]) -> str:
    n = r["clusters"]
    rows = [
        f"{n} simulated clusters ({2 * n} nodes, 0 ms injected latency), {r['cpus']} CPUs.",
        "",
        "| forks | status: wall s | per cluster s | no-op deploy: wall s | per cluster s "
        "| peak controller MB |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for run in r["runs"]:
        st, de = run["status"], run["deploy_noop"]
        rows.append(
            f"| {run['forks']} | {st['s']} | {st['s'] / n:.2f} | {de['s']} | {de['s'] / n:.2f} "
            f"| {max(st['peak_mb'], de['peak_mb'])} |"
        )
    fd = r["first_deploy"]
    api = r["api_status_serial_s"]
    serial = next((x for x in r["runs"] if x["forks"] == 1), None)
    rows += [
        "",
        f"First deploy (every cluster changed), forks {fd['forks']}: {fd['s']} s, peak {fd['peak_mb']} MB.",
        f"Python API, status one cluster at a time: {api} s ({api / n:.2f} s per cluster).",
    ]
    if serial:
        over = (serial["status"]["s"] - api) / n
        rows.append(f"Ansible's overhead per cluster (status, forks 1 minus the API): {over:.2f} s.")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
