"""The operational subcommands: deploy, status, failover-backup, failback-backup, run, restore-source,
drill.

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
    p.add_argument(
        "--no-progress", action="store_true",
        help="no per-node progress on stderr (by default: a bar on a terminal, else a line every 10 s "
        "once the work takes that long)",
    )
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


def _reporter(args: argparse.Namespace) -> Any:
    """Per-node progress on stderr while the nodes work (closed by :func:`_guard`)."""
    from clpbackup.cli_progress import Reporter

    enabled = not getattr(args, "no_progress", False)
    reporter = Reporter(getattr(args, "_command", "clpbackup"), enabled=enabled)
    args._reporter = reporter
    return reporter


def _open(args: argparse.Namespace, **kwargs: Any) -> ClusterBackup | int:
    from clpbackup.cli import _describe_plan_error, _load
    from clpbackup.errors import PlanError
    from clpbackup.operations import ClusterBackup

    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    try:
        plan = _with_password(loaded)
        cb = ClusterBackup(plan, progress=_reporter(args), **kwargs)
        return cb
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
    from clpbackup.results import DeployResult, DrillResult, ScheduleResult, StatusResult

    if fmt == "json":
        _emit_json(result.to_json())
        return EXIT_OK if result.ok else EXIT_FINDINGS
    changed = " (would change)" if result.check else " (changed)"
    verdict = "ok" if result.ok else "NEEDS ATTENTION"
    print(f"{result.operation}: {verdict}" + (changed if result.changed else ""))
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
            for e in v.events or []:
                kind = e.kind or "not a clpbackup ID"
                print(f"    ALERT-1 event {e.event_id} at {e.time} ({kind}): {e.message}")
            for job, last in v.drills.items():
                print(f"    last drill of {job}: {last}")
        if isinstance(v, DrillResult):
            for d in v.drills:
                print(f"    {d.line()}")
                for line in d.commands if v.check else []:
                    print(f"      would run: {line}")
        if isinstance(v, ScheduleResult) and v.action == "refused":
            print("    refused: nothing was changed on this node")
        for n in v.notes:
            print(f"    - {n}")
    for p in _problems_not_shown(result):
        print(f"  ! {p}")
    for n in result.notes:
        print(f"  - {n}")
    return EXIT_OK if result.ok else EXIT_FINDINGS


def _problems_not_shown(result: ClusterResult[Any]) -> list[Any]:
    """The cluster's and the nodes' problems; a node's error is on its own line already, so its
    cause is said once."""
    out = list(result.problems)
    for v in result.succeeded.values():
        out += v.problems
    return out


def _guard(fn: Any) -> Any:
    """Map clpbackup errors raised before any per-node result exists to exit 2 (1 for a refusal)
    with the message on stderr; with ``--format json`` stdout gets ``{"operation", "ok": false,
    "error"}`` as well, so a script always has one JSON document to read."""

    def run(args: argparse.Namespace) -> int:
        from clpbackup.errors import ClpBackupError, OwnerUnknown, PlanError, describe

        try:
            code: int = fn(args)
            return code
        except ClpBackupError as exc:
            _close_reporter(args)
            if isinstance(exc, OwnerUnknown):
                text, code = f"refused: {exc}", EXIT_FINDINGS
            elif isinstance(exc, PlanError):
                from clpbackup.cli import _describe_plan_error

                text, code = _describe_plan_error(exc), EXIT_UNREADABLE
            else:
                text, code = f"error: {exc}", EXIT_UNREADABLE
            print(text, file=sys.stderr)
            if getattr(args, "format", "text") == "json":
                error = describe(exc)
                if isinstance(exc, PlanError):
                    error.update(field=exc.field, line=exc.line, hint=exc.hint)
                _emit_json({"operation": getattr(args, "_command", None), "ok": False, "error": error})
            return code
        finally:
            _close_reporter(args)

    run.__doc__ = fn.__doc__
    return run


def _close_reporter(args: argparse.Namespace) -> None:
    reporter = getattr(args, "_reporter", None)
    if reporter is not None:
        args._reporter = None
        reporter.close()


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
    description="Deploy the plan's batch files and daily schedules to both nodes (JOB-1, SCH-1, "
    "SCH-2), only under clpbackup's names, idempotently (IDEM-1): a second run changes nothing. "
    "--check reads the nodes and shows what would change, writing nothing ('(would change)').",
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
    "status",
    "show schedules, last runs, versions, the switchover owner and drift",
    _configure_status,
    description="Read both nodes and show, per node, the files and schedules against the plan, last "
    "runs and their verdicts, the newest backups, who owns the switchover partition and drift between "
    "the nodes. Changes nothing. With --node only that node is asked: the other is 'not asked', and "
    "the owner and drift checks, which need both nodes, say they were skipped. --format html|md "
    "writes a report to hand over (--out FILE).",
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


def _configure_one_shot(p: argparse.ArgumentParser, *, at_help: str, replace_help: str) -> None:
    _configure(p, check=True, node=False)
    p.add_argument("--at", metavar="HH:MM|now", help=at_help)
    p.add_argument("--replace", action="store_true", help=replace_help)


def _configure_failover(p: argparse.ArgumentParser) -> None:
    _configure_one_shot(
        p,
        at_help="when the one-shot runs: HH:MM or now (default: the plan's failover_backup.at); a time "
        "inside a daily backup window is refused (SCH-3)",
        replace_help="replace another one-shot of the job still waiting to run on the owner (a failback "
        "one at another time); without it such a call is refused and changes nothing",
    )


def _configure_failback(p: argparse.ArgumentParser) -> None:
    _configure_one_shot(
        p,
        at_help="when the backup runs: now (the default) or HH:MM; a time inside a daily backup window "
        "is refused (SCH-3)",
        replace_help="replace the failover one-shot (FO-2) still waiting to run on the owner; the two share "
        "a task name, so without it failback-backup is refused and changes nothing",
    )


@subcommand(
    "failover-backup",
    "FO-2: schedule the one-shot full switchover backup on the owner",
    _configure_failover,
    description="FO-2: after a failover, schedule one full backup of the switchover job "
    "(failover_backup.job) on the node that now owns the switchover partition, at --at or the plan's "
    "failover_backup.at. Normally failover.bat does this from the start script; use this when it did "
    "not, or to choose another time. The owner is decided from evidence; when it is unknown nothing "
    "is started (exit 1). Idempotent. --check says what would be scheduled, and where, and changes "
    "nothing.",
)
@_guard
def _failover(args: argparse.Namespace) -> int:
    cb = _open(args)
    if isinstance(cb, int):
        return cb
    with cb:
        result = cb.failover_backup(at=args.at, check=args.check, replace=args.replace)
        return _print_result(result, args.format)


@subcommand(
    "failback-backup",
    "FB-1: run the switchover backup once on the owner after failback",
    _configure_failback,
    description="FB-1: once the failover group is back on its home node, run the switchover backup "
    "there once: now (default) or at --at HH:MM. The job is the plan's failover_backup.job (else its "
    "first switchover job). It uses the failover one-shot's task name: when a failover one-shot is "
    "still waiting to run, this is refused unless --replace, and the output says what was replaced. "
    "--check says what would be done and changes nothing.",
)
@_guard
def _failback(args: argparse.Namespace) -> int:
    cb = _open(args)
    if isinstance(cb, int):
        return cb
    with cb:
        result = cb.failback_backup(at=args.at, check=args.check, replace=args.replace)
        return _print_result(result, args.format)


def _configure_run(p: argparse.ArgumentParser) -> None:
    _configure(p)
    p.add_argument("--job", required=True, help="the job to run now")
    p.add_argument("--no-wait", action="store_true", help="start it and return at once")
    p.add_argument("--timeout", type=float, default=6 * 3600, help="seconds to wait (default 6 h)")


@subcommand(
    "run",
    "run a job now through the node's scheduler and wait for it",
    _configure_run,
    description="Run a job now through each node's scheduler (detached: no WinRM call stays open) and "
    "wait for its outcome, up to --timeout. A local job runs on both nodes (or --node); a switchover "
    "job on the owner only (JOB-3). --no-wait starts it and returns.",
)
@_guard
def _run(args: argparse.Namespace) -> int:
    from clpbackup.operations import BackupHandle

    cb = _open(args)
    if isinstance(cb, int):
        return cb
    with cb:
        res = cb.run_backup(args.job, node=args.node, wait=not args.no_wait, timeout=args.timeout)
        if isinstance(res, BackupHandle):
            return _print_started(res, args.format)
        return _print_result(res, args.format)


def _print_started(handle: Any, fmt: str) -> int:
    """``run --no-wait``: where the job was started, and the nodes where starting it failed."""
    from clpbackup.errors import describe

    failed = dict(handle.failed)
    code = EXIT_FINDINGS if failed else EXIT_OK
    if fmt == "json":
        _emit_json({
            "operation": "run --no-wait",
            "ok": not failed,
            "job": handle.job,
            "started": list(handle.nodes),
            "nodes": {n: {"ok": False, "error": describe(e)} for n, e in failed.items()},
        })
        return code
    if handle.nodes:
        print(f"started {handle.job} on {', '.join(handle.nodes)}; check with: clpbackup status")
    for n, e in failed.items():
        print(f"  {n}: FAILED {type(e).__name__}: {e}")
    return code


def _configure_restore(p: argparse.ArgumentParser) -> None:
    _configure(p, node=False)
    p.add_argument("item", help="a switchover volume (E:) or a path on it")


@subcommand(
    "restore-source",
    "RS-1: which node and version to restore switchover data from, and how",
    _configure_restore,
    description="RS-1: say which node and which backup to restore a switchover volume (E:) or a path "
    "on it from, and the exact command. Reads both nodes; never runs a restore. Exit 1 when there is "
    "no source.",
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
        _print_restore(src)
    return EXIT_OK if src.ok else EXIT_FINDINGS


def _print_restore(src: RestoreSource) -> None:
    """RS-1 for people: the verdict first, then the command, the steps and what each node holds."""
    if src.ok:
        print(f"restore-source: restore {src.item} on {src.node} from version {src.version or '-'}"
              f" (job {src.job})")
    else:
        print(f"restore-source: no source for {src.item}")
    if src.command:
        print(f"  command: {src.command}")
    for step in src.steps:
        print(f"  - {step}")
    for n, v in src.candidates.items():
        print(f"  newest backup on {n}: {v or 'none'}")
    for p in src.problems:
        print(f"  ! {p}")


def _configure_drill(p: argparse.ArgumentParser) -> None:
    _configure(p, check=True)
    p.add_argument("--job", help="only this job (default: every job)")
    p.add_argument(
        "--timeout", type=float, default=3600, help="seconds to wait for each recovery (default 1 h)"
    )


@subcommand(
    "drill",
    "DRILL-1: recover each job's canary from its newest backup and check it",
    _configure_drill,
    description="DRILL-1 (CAU-2): on each node that holds a job's data (the owner for a switchover job, "
    "RS-1), recover the canary the job's last backup wrote from the newest version into a scratch "
    "folder (wbadmin start recovery, as SYSTEM through a one-shot task), compare its token with the "
    "one the run recorded, delete the copy, and report the version, its age and the time to recover. "
    "On 2003 the verdict is 'limited' (NTBackup has no command-line restore). --check shows the "
    "commands and runs nothing. Exit 0 when every drill passed (or, with --check, would run), 1 when "
    "one failed, was refused or is limited, 2 on an error.",
)
@_guard
def _drill(args: argparse.Namespace) -> int:
    cb = _open(args)
    if isinstance(cb, int):
        return cb
    with cb:
        result = cb.drill(job=args.job, node=args.node, check=args.check, timeout=args.timeout)
        return _print_result(result, args.format)


def _configure_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plan", help="another plan file (default: the packaged ws2012-wsb.yaml example)")


@subcommand(
    "demo",
    "the whole story on a simulated two-node cluster, checked step by step",
    _configure_demo,
    description="Tell the whole story on a simulated two-node cluster: validate, render, deploy, "
    "status, a failover and its backup, failback, restore source, each step checked. Exit 0 when "
    "every step behaved as the guide prescribes. With --format json the story goes to stderr and "
    "stdout gets the steps and their checks as JSON.",
)
def _demo(args: argparse.Namespace) -> int:
    from clpbackup.demo import run_demo

    if args.format == "json":  # the story is for people: stderr; stdout holds only the JSON
        return run_demo(args.plan, out=sys.stderr, json_out=sys.stdout)
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
    p.add_argument(
        "--backup-duration",
        type=_duration,
        default=0,
        metavar="DURATION",
        help="model time a scheduled wbadmin backup spends copying (20m, 1h; default 0: it ends at "
        "once); it writes copied (NN%%) to its log as the clock moves (--speed, or clpbackup sim advance)",
    )


def _duration(text: str) -> int:
    from clpbackup.testing.control import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@subcommand(
    "simulate",
    "serve two simulated Windows nodes for a plan until interrupted",
    _configure_simulate,
    description="Serve two simulated Windows nodes (clpbackup.testing) on 127.0.0.1 for the plan and "
    "write the plan pointed at them to --write-plan; other clpbackup commands then work against them. "
    "The nodes accept the password in the plan's environment variable: set it first. With --format "
    "json, stdout gets one JSON document (the endpoints) once they listen; the rest goes to stderr.",
)
def _simulate(args: argparse.Namespace) -> int:
    from clpbackup.cli import _describe_plan_error
    from clpbackup.errors import ClpBackupError, PlanError, describe
    from clpbackup.testing.simulate_cli import run_simulate

    json_mode = args.format == "json"

    def say(line: str) -> None:
        print(line, file=sys.stderr if json_mode else sys.stdout, flush=True)

    def ready(data: dict[str, Any]) -> None:
        _emit_json(data)
        sys.stdout.flush()

    try:
        return run_simulate(
            args.plan, args.write_plan, ssl=args.ssl, latency=args.latency, speed=args.speed,
            backup_duration=args.backup_duration, out=say, ready=ready if json_mode else None,
        )
    except ClpBackupError as exc:
        text = _describe_plan_error(exc) if isinstance(exc, PlanError) else str(exc)
        print(f"clpbackup simulate: {text}", file=sys.stderr)
        if json_mode:
            _emit_json({"operation": "simulate", "ok": False, "error": describe(exc)})
        return EXIT_UNREADABLE
