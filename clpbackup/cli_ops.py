"""The operational subcommands: deploy, status, failover-backup, failback-backup, run, restore-source.

Registered in :mod:`clpbackup.cli`'s registry. Exit codes: 0 ok, 1 problems found (a node needs
attention, a node failed, the plan breaks a rule), 2 error (the plan cannot be read, bad arguments,
no password). The password comes from the plan's environment variable or a prompt on the terminal,
never from the command line.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from clpbackup.cli import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_UNREADABLE,
    _add_format,
    _add_plan,
    _emit_json,
    subcommand,
)

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.operations import ClusterBackup
    from clpbackup.plan import Plan
    from clpbackup.results import ClusterResult, RestoreSource


def _configure(p: argparse.ArgumentParser, *, check: bool = False, node: bool = True) -> None:
    _add_plan(p)
    _add_format(p)
    if node:
        p.add_argument("--node", help="only this node")
    if check:
        p.add_argument("--check", action="store_true", help="change nothing; show what would change")


def _with_password(plan: Plan) -> Plan:
    """The plan with a password callback when the CLI must ask for it (never from argv)."""
    import os

    from pydantic import SecretStr

    from clpbackup.plan import PasswordRef

    ref = plan.connection.password
    if ref is None:
        return plan
    needs_prompt = ref.prompt or (ref.env is not None and ref.env not in os.environ)
    if not needs_prompt:
        return plan
    if not sys.stdin.isatty():
        from clpbackup.errors import PlanError

        what = (
            f"the environment variable {ref.env} is not set" if ref.env else "the password is to be prompted"
        )
        raise PlanError(
            f"{what} and there is no terminal to ask on",
            field="connection.password",
            hint=f"export {ref.env or 'the variable'} before running clpbackup",
        )
    import getpass

    secret = SecretStr(getpass.getpass(f"password for {plan.connection.username or 'the nodes'}: "))
    conn = plan.connection.model_copy(update={"password": PasswordRef(callback=lambda _node: secret)})
    return plan.model_copy(update={"connection": conn})


def _open(args: argparse.Namespace, **kwargs: Any) -> ClusterBackup | int:
    from clpbackup.cli import _describe_plan_error, _load
    from clpbackup.errors import PlanError
    from clpbackup.operations import ClusterBackup

    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    try:
        plan = _with_password(loaded)
        return ClusterBackup(plan, **kwargs)
    except PlanError as exc:
        if exc.findings:
            print(f"the plan breaks {len(exc.findings)} rule(s); nothing was done:", file=sys.stderr)
            for f in exc.findings:
                print(f"  {f.rule} {f.message}", file=sys.stderr)
            return EXIT_FINDINGS
        print(_describe_plan_error(exc), file=sys.stderr)
        return EXIT_UNREADABLE


def _print_result(result: ClusterResult[Any], fmt: str, *, verbose_diff: bool = False) -> int:
    from clpbackup.errors import ClpBackupError
    from clpbackup.results import DeployResult, StatusResult

    if fmt == "json":
        _emit_json(result.to_json())
        return EXIT_OK if result.ok else EXIT_FINDINGS
    print(
        f"{result.operation}: {'ok' if result.ok else 'NEEDS ATTENTION'}"
        + (" (changed)" if result.changed else "")
    )
    for node, v in result.items():
        if isinstance(v, ClpBackupError):
            print(f"  {node}: FAILED {type(v).__name__}: {v}")
            continue
        print(f"  {v.summary()}")
        if isinstance(v, DeployResult):
            for c in v.changes:
                if c.action != "unchanged" or verbose_diff:
                    print(f"    {c.action:9} {c.kind:12} {c.name}")
        if isinstance(v, StatusResult):
            for s in v.schedules:
                last = f" last {s.last_run} rc={s.last_result}" if s.last_run else ""
                print(f"    {s.state:9} {s.name} at {s.at or '-'}{last}  {s.verdict}")
            for job, ver in v.versions.items():
                print(f"    newest version of {job}: {ver or 'none'}")
        for n in v.notes:
            print(f"    - {n}")
    for p in result.all_problems():
        print(f"  ! {p}")
    for n in result.notes:
        print(f"  - {n}")
    return EXIT_OK if result.ok else EXIT_FINDINGS


def _guard(fn: Any) -> Any:
    """Map clpbackup errors raised before any per-node result exists to exit 2 with the message."""

    def run(args: argparse.Namespace) -> int:
        from clpbackup.errors import ClpBackupError, OwnerUnknown, PlanError

        try:
            code: int = fn(args)
            return code
        except OwnerUnknown as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return EXIT_FINDINGS
        except PlanError as exc:
            from clpbackup.cli import _describe_plan_error

            print(_describe_plan_error(exc), file=sys.stderr)
            return EXIT_UNREADABLE
        except ClpBackupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE

    run.__doc__ = fn.__doc__
    return run


def _configure_deploy(p: argparse.ArgumentParser) -> None:
    _configure(p, check=True)
    p.add_argument(
        "--install-features",
        action="store_true",
        help="OS-3: install Windows Server Backup where it is missing (2008 and later)",
    )
    p.add_argument(
        "--fix-schedule-service",
        action="store_true",
        help="SCH-4: set the Schedule service to automatic and start it where AT is used",
    )
    p.add_argument(
        "--state",
        choices=("present", "absent"),
        default="present",
        help="absent: uninstall — remove exactly what clpbackup's record on each node lists (OWN-1)",
    )
    p.add_argument(
        "--adopt",
        action="store_true",
        help="OWN-1: take over files and tasks at the planned names that no record lists "
        "(a node deployed by an earlier clpbackup); never AT jobs",
    )
    p.add_argument(
        "--lock-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="LOCK-1: how long to wait for another deploy's node lock (default 60)",
    )


@subcommand(
    "deploy",
    "deploy the plan's jobs to both nodes (idempotent; --check changes nothing)",
    _configure_deploy,
)
@_guard
def _deploy(args: argparse.Namespace) -> int:
    cb = _open(
        args,
        install_features=args.install_features,
        fix_schedule_service=args.fix_schedule_service,
        adopt=args.adopt,
        lock_wait=args.lock_wait,
    )
    if isinstance(cb, int):
        return cb
    with cb:
        return _print_result(cb.deploy(check=args.check, node=args.node, state=args.state), args.format)


def _configure_status(p: argparse.ArgumentParser) -> None:
    from clpbackup.cli_report import add_report_options

    _configure(p)
    add_report_options(p)


@subcommand(
    "status", "show schedules, last runs, versions, the switchover owner and drift", _configure_status
)
@_guard
def _status(args: argparse.Namespace) -> int:
    cb = _open(args)
    if isinstance(cb, int):
        return cb
    with cb:
        result = cb.status(node=args.node)
    if args.format in ("html", "md"):
        from clpbackup.cli_report import write_report

        return write_report(args, cb.plan, result)
    return _print_result(result, args.format)


def _configure_one_shot(p: argparse.ArgumentParser) -> None:
    _configure(p, node=False)
    p.add_argument("--at", help="HH:MM or now (default: the plan's failover_backup.at; failback: now)")


@subcommand(
    "failover-backup", "FO-2: schedule the one-shot full switchover backup on the owner", _configure_one_shot
)
@_guard
def _failover(args: argparse.Namespace) -> int:
    cb = _open(args)
    if isinstance(cb, int):
        return cb
    with cb:
        return _print_result(cb.failover_backup(at=args.at), args.format)


@subcommand(
    "failback-backup", "FB-1: run the switchover backup once on the owner after failback", _configure_one_shot
)
@_guard
def _failback(args: argparse.Namespace) -> int:
    cb = _open(args)
    if isinstance(cb, int):
        return cb
    with cb:
        return _print_result(cb.failback_backup(at=args.at), args.format)


def _configure_run(p: argparse.ArgumentParser) -> None:
    _configure(p)
    p.add_argument("--job", required=True, help="the job to run now")
    p.add_argument("--no-wait", action="store_true", help="start it and return at once")
    p.add_argument("--timeout", type=float, default=6 * 3600, help="seconds to wait (default 6 h)")


@subcommand("run", "run a job now through the node's scheduler and wait for it", _configure_run)
@_guard
def _run(args: argparse.Namespace) -> int:
    from clpbackup.operations import BackupHandle

    cb = _open(args)
    if isinstance(cb, int):
        return cb
    with cb:
        res = cb.run_backup(args.job, node=args.node, wait=not args.no_wait, timeout=args.timeout)
        if isinstance(res, BackupHandle):
            print(f"started {args.job} on {', '.join(res.nodes)}; check with: clpbackup status")
            return EXIT_OK
        return _print_result(res, args.format)


def _configure_restore(p: argparse.ArgumentParser) -> None:
    _configure(p, node=False)
    p.add_argument("item", help="a switchover volume (E:) or a path on it")


@subcommand(
    "restore-source",
    "RS-1: which node and version to restore switchover data from, and how",
    _configure_restore,
)
@_guard
def _restore(args: argparse.Namespace) -> int:
    cb = _open(args)
    if isinstance(cb, int):
        return cb
    with cb:
        src: RestoreSource = cb.restore_source(args.item)
    if args.format == "json":
        _emit_json(src.to_json())
    else:
        print(repr(src))
        for s in src.steps:
            print(f"  - {s}")
        for n, v in src.candidates.items():
            print(f"  candidate {n}: {v or 'no version'}")
    return EXIT_OK if src.ok else EXIT_FINDINGS


def _configure_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plan", help="another plan file (default: the packaged ws2012-wsb.yaml example)")


@subcommand("demo", "the whole story on a simulated two-node cluster, checked step by step", _configure_demo)
def _demo(args: argparse.Namespace) -> int:
    from clpbackup.demo import run_demo

    return run_demo(args.plan)


def _configure_simulate(p: argparse.ArgumentParser) -> None:
    _add_plan(p)
    p.add_argument(
        "--write-plan",
        required=True,
        metavar="OUT",
        help="write the plan pointed at the simulated nodes here (YAML)",
    )
    p.add_argument("--ssl", action="store_true", help="HTTPS with a generated self-signed certificate")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every WinRM answer")
    p.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="model seconds per real second for the simulated clock (0: the clock stands still)",
    )


@subcommand("simulate", "serve two simulated Windows nodes for a plan until interrupted", _configure_simulate)
def _simulate(args: argparse.Namespace) -> int:
    from clpbackup.testing.simulate_cli import run_simulate

    return run_simulate(args.plan, args.write_plan, ssl=args.ssl, latency=args.latency, speed=args.speed)
