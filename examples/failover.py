#!/usr/bin/env python3
"""What an operator runs by hand after CLUSTERPRO has failed the group over (FO-2, RS-1).

    python examples/failover.py plan.yaml                  # look, ask, schedule at the plan's time
    python examples/failover.py plan.yaml --at now --yes   # start the failover backup at once, wait
    python examples/failover.py plan.yaml --wait 0         # schedule it and return

1. **Status**: both nodes, and which one owns the switchover partition — decided from evidence
   (the volumes attached and writable, ``clpstat``), never guessed.
2. **Who owns it.** Unknown: stop, start nothing, print why (exit 1; fail closed). The home node:
   there was no failover, or the group has come back — the failback backup is FB-1
   (``clpbackup failback-backup``); nothing is done here.
3. **The failover backup** (FO-2): first ``failover_backup(check=True)`` — which node, when, which
   commands — then, after a yes (or ``--yes``), ``failover_backup(at=…)``. The failover script
   that deploy put on the nodes normally schedules it by itself when the group starts on the other
   node; then nothing changes here (idempotent).
4. **Wait** (when it starts now): poll the status until the owner's newest backup of the job is a
   new one, or the one-shot task ends with an error, or ``--wait`` seconds have passed.
5. **Restore hint** (RS-1): for each switchover volume, the node and backup version to restore
   from, and the exact command. clpbackup never runs a restore.

Exit 0 when the failover backup is in place (and, when waited for, succeeded); 1 when the owner
is unknown, a node failed, or the backup failed or did not finish in time; 2 when the plan cannot
be read or a question cannot be asked. See docs/operations.md (failover_backup) and
docs/troubleshooting.md.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time

from clpbackup import ClusterBackup, Plan
from clpbackup.errors import ClpBackupError, PlanError
from clpbackup.plan import PasswordRef
from clpbackup.results import ClusterResult, ScheduleResult, StatusResult

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2
#: Task Scheduler results that mean "not finished": has not run yet (0x41303), is running (0x41301).
NOT_FINISHED = (0x41303, 0x41301)


def with_password(plan: Plan) -> Plan:
    """The plan, with a password typed on the terminal when its variable is not set (as deploy.py)."""
    ref = plan.connection.password
    if ref is None or ref.callback is not None or (ref.env is not None and ref.env in os.environ):
        return plan
    if not sys.stdin.isatty():
        raise PlanError(
            f"the environment variable {ref.env} is not set and there is no terminal to ask on"
            if ref.env
            else "the plan says password: {prompt: true} and there is no terminal to ask on",
            field="connection.password",
            hint=f"export {ref.env or 'the password variable'} before running the script",
        )
    secret = getpass.getpass(f"password for {plan.connection.username or 'the nodes'}: ")
    connection = plan.connection.model_copy(update={"password": PasswordRef(callback=lambda _node: secret)})
    return plan.model_copy(update={"connection": connection})


def confirm(question: str) -> bool | None:
    """``True``/``False`` from the terminal; ``None`` when there is no terminal to ask on."""
    if not sys.stdin.isatty():
        return None
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def newest(cb: ClusterBackup, owner: str, job: str) -> tuple[str | None, int | None]:
    """The owner's newest backup of ``job`` and the last result of its one-shot task."""
    status = cb.status()
    value = status[owner]
    if not isinstance(value, StatusResult):
        raise value
    once = [s for s in value.schedules if s.state == "one-shot" and s.job == job]
    return value.versions.get(job), (once[0].last_result if once else None)


def wait_for_backup(
    cb: ClusterBackup, owner: str, job: str, before: str | None, timeout: float, poll: float
) -> bool:
    """Poll until the owner has a new backup of ``job`` (True) or it failed / time ran out (False)."""
    deadline = time.monotonic() + timeout
    while True:
        version, result = newest(cb, owner, job)
        if version and version != before:
            print(f"the failover backup finished on {owner}: newest backup of {job} is {version}")
            return True
        if result is not None and result not in NOT_FINISHED and result != 0:
            print(f"the failover backup failed on {owner} (task result {result}); see the job's log")
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            print(f"the failover backup has not finished after {timeout:.0f} s; see clpbackup status")
            return False
        time.sleep(min(poll, remaining))


def print_one_shot(result: ClusterResult[ScheduleResult]) -> None:
    """What was (or would be) done on each node, and why not where nothing was."""
    print(f"{result.operation}: {'ok' if result.ok else 'NEEDS ATTENTION'}")
    for node, value in result.items():
        if isinstance(value, ClpBackupError):
            print(f"  {node}: FAILED {type(value).__name__}: {value}")
            continue
        print(f"  {node}: {value.action}")
        for note in value.notes:
            print(f"    - {note}")
    for problem in result.all_problems():
        print(f"  ! {problem}")
    for note in result.notes:
        print(f"  - {note}")


def restore_hint(cb: ClusterBackup, plan: Plan) -> None:
    """RS-1: where each switchover volume would be restored from now."""
    for volume in plan.cluster.switchover_volumes:
        source = cb.restore_source(volume)
        print(f"restore {volume} from: {source!r}")
        for step in source.steps:
            print(f"  - {step}")


def main(argv: list[str] | None = None) -> int:
    """Run the script; return its exit code."""
    parser = argparse.ArgumentParser(description="After a failover: the failover backup (FO-2), by hand.")
    parser.add_argument("plan", help="the plan file (.yaml, .yml or .json)")
    parser.add_argument("--at", help="HH:MM or now (default: the plan's failover_backup.at)")
    parser.add_argument("--yes", action="store_true", help="do not ask before scheduling")
    parser.add_argument(
        "--wait", type=float, default=6 * 3600, help="seconds to wait for a backup started now (default 6 h)"
    )
    parser.add_argument("--poll", type=float, default=60.0, help="seconds between two looks (default 60)")
    args = parser.parse_args(argv)

    try:
        plan = Plan.from_file(args.plan)
    except PlanError as exc:
        print(f"{args.plan}: cannot read the plan: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if plan.failover_backup is None:
        print("the plan has no failover_backup section (FO-2): add one, deploy, then run this again")
        return EXIT_PROBLEMS
    job = plan.failover_backup.job
    at = args.at or plan.failover_backup.at
    home = plan.home_node.name

    try:
        plan = with_password(plan)
        with ClusterBackup(plan) as cb:
            # 1. status
            status = cb.status()
            print(repr(status))

            # 2. who owns the switchover partition
            owners = [n for n, v in status.succeeded.items() if v.owner]
            if len(owners) != 1:
                print("the owner of the switchover partition is unknown: nothing was started (FO-2)")
                return EXIT_PROBLEMS
            owner = owners[0]
            if owner == home:
                print(
                    f"{owner}, the home node, owns the switchover partition: no failover to handle. "
                    "After a failback, run the failback backup (FB-1): clpbackup failback-backup PLAN"
                )
                return EXIT_OK
            print(f"the group has failed over: {owner} owns {', '.join(plan.cluster.switchover_volumes)}")
            owner_status = status[owner]
            assert isinstance(owner_status, StatusResult)
            missing = [path for path, state in owner_status.files.items() if state != "matching"]
            if missing:
                print(f"{owner} does not have clpbackup's files ({', '.join(missing)}): run deploy first")
                return EXIT_PROBLEMS

            # 3. the failover backup: what would happen, then do it
            check = cb.failover_backup(at=at, check=True)
            print_one_shot(check)
            planned = check[owner]
            if not isinstance(planned, ScheduleResult) or planned.action == "refused":
                print("the failover backup cannot be scheduled (see above)")
                return EXIT_PROBLEMS
            before, _ = newest(cb, owner, job)
            if planned.action.startswith("would be "):
                if not args.yes:
                    answer = confirm(f"schedule the failover backup of {job} on {owner} at {at}?")
                    if answer is None:
                        print("not a terminal: re-run with --yes to schedule without asking", file=sys.stderr)
                        return EXIT_ERROR
                    if not answer:
                        print("nothing was scheduled")
                        return EXIT_OK
                result = cb.failover_backup(at=at)
                print_one_shot(result)
                if not result.ok:
                    return EXIT_PROBLEMS

            # 4. wait for a backup that starts now
            if at == "now" and args.wait > 0:
                if not wait_for_backup(cb, owner, job, before, args.wait, args.poll):
                    return EXIT_PROBLEMS
            elif at != "now":
                print(f"the failover backup runs at {at} on {owner}; check it then with clpbackup status")

            # 5. where to restore from (RS-1)
            restore_hint(cb, plan)
    except PlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ClpBackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
