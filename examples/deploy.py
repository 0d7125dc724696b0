#!/usr/bin/env python3
"""Deploy a clpbackup plan to both nodes of a CLUSTERPRO cluster, the careful way.

    python examples/deploy.py plan.yaml             # check, show what would change, ask, deploy
    python examples/deploy.py plan.yaml --yes       # unattended (no question asked)
    python examples/deploy.py plan.yaml --check     # show what would change; change nothing

1. Load the plan (exit 2 when it cannot be read: the message names the field and line).
2. Check it against the operating rules (exit 1 on an error finding; no node is contacted).
3. ``deploy(check=True)``: what would change on each node; nothing is written.
4. Ask (unless ``--yes``), then ``deploy()``: both nodes in parallel, idempotently (IDEM-1).
5. Print the result per node and what is left to do by hand (FO-1). Exit 0 when both nodes are
   in place, 1 when a node failed or needs attention.

The password comes from the environment variable the plan names (``password: {env: …}``); when
it is not set and the script runs on a terminal, it asks. It is never a command-line argument.
See docs/operations.md (deploy) and docs/getting-started.md.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from clpbackup import ClusterBackup, Plan
from clpbackup.errors import ClpBackupError, PlanError
from clpbackup.plan import PasswordRef
from clpbackup.results import ClusterResult, DeployResult

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2


def with_password(plan: Plan) -> Plan:
    """The plan, with a password typed on the terminal when its variable is not set.

    Raises ``PlanError`` when the password is needed and there is no terminal to ask on.
    """
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


def print_changes(result: ClusterResult[DeployResult]) -> None:
    """One line per item that would change (or changed), node by node."""
    for node, value in result.items():
        if isinstance(value, DeployResult) and value.diff:
            print(f"{node}:")
            for change in value.diff:
                print(f"  {change}")


def main(argv: list[str] | None = None) -> int:
    """Run the script; return its exit code."""
    parser = argparse.ArgumentParser(description="Deploy a clpbackup plan to both nodes.")
    parser.add_argument("plan", help="the plan file (.yaml, .yml or .json)")
    parser.add_argument("--yes", action="store_true", help="deploy without asking")
    parser.add_argument("--check", action="store_true", help="show what would change and stop")
    parser.add_argument("--node", help="deploy to this node only")
    parser.add_argument(
        "--install-features", action="store_true", help="install Windows Server Backup where missing (OS-3)"
    )
    parser.add_argument(
        "--fix-schedule-service",
        action="store_true",
        help="set the Schedule service to Automatic and start it where AT needs it (SCH-4)",
    )
    args = parser.parse_args(argv)

    # 1. the plan
    try:
        plan = Plan.from_file(args.plan)
    except PlanError as exc:
        print(f"{args.plan}: cannot read the plan: {exc}", file=sys.stderr)
        return EXIT_ERROR
    home, standby = plan.home_node, plan.standby_node
    print(
        f"plan {args.plan}: cluster {plan.cluster.name}, {home.name} (home) and {standby.name}, "
        f"Windows Server {home.os}"
    )

    # 2. the rules, offline: a plan that breaks one never reaches a node
    findings = plan.findings()
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    notes = len(findings) - len(errors) - len(warnings)
    print(f"rules: {len(errors)} error(s), {len(warnings)} warning(s), {notes} note(s)")
    for f in [*errors, *warnings]:
        print(f"  {f}")
    if errors:
        print("nothing was deployed: fix the plan first (clpbackup validate shows every finding)")
        return EXIT_PROBLEMS

    try:
        plan = with_password(plan)
        with ClusterBackup(
            plan,
            install_features=args.install_features,
            fix_schedule_service=args.fix_schedule_service,
        ) as cb:
            # 3. what would change; nothing is written
            check = cb.deploy(check=True, node=args.node)
            print(repr(check))
            print_changes(check)
            if check.failed:
                failed = ", ".join(check.failed)
                print(
                    f"nothing was deployed: {failed} cannot be deployed to (see above); fix that, "
                    "or deploy the other node alone with --node"
                )
                return EXIT_PROBLEMS
            if not any(v.diff for v in check.succeeded.values()):
                print("both nodes are in place: nothing to deploy")
                return EXIT_OK if check.ok else EXIT_PROBLEMS
            if args.check:
                return EXIT_OK

            # 4. ask, then deploy
            if not args.yes:
                answer = confirm(f"deploy these changes to {', '.join(check)}?")
                if answer is None:
                    print("not a terminal: re-run with --yes to deploy without asking", file=sys.stderr)
                    return EXIT_ERROR
                if not answer:
                    print("nothing was deployed")
                    return EXIT_OK
            result = cb.deploy(node=args.node)
    except PlanError as exc:  # an insecure connection setting, a missing password
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ClpBackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS

    # 5. the result
    print(repr(result))
    if result.failed:
        print("run the script again once the failed node is reachable: it applies only what is missing")
    return EXIT_OK if result.ok else EXIT_PROBLEMS


if __name__ == "__main__":
    sys.exit(main())
