"""``clpbackup init OUT.yaml``: start from a commented plan instead of a blank page.

The plan is written from flags, and from questions for the flags not given when stdin is a
terminal (Enter keeps the default shown). It holds the guide's shape: a local job on both nodes at
the same time (JOB-1, SCH-1), a job of its own for the switchover partition (JOB-2) that the standby
runs later (SCH-2), and a backup on the new owner after a failover (FO-2) outside every daily window
(SCH-3). The backup tool follows from the OS (the platform says which: NTBackup to a ``.bkf`` file
on 2003, Windows Server Backup to a folder per node on a share from 2008 on).

The text is checked by the same rules as ``clpbackup validate`` before anything is written: a plan
with an error finding, or a file that already exists (without ``--force``), writes nothing. Exit
codes: 0 written, 1 the answers make a plan that breaks a rule, 2 bad arguments or the file cannot be
written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clpbackup.cli import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_UNREADABLE,
    _describe_plan_error,
    _print_findings,
    subcommand,
)


def os_choices() -> tuple[str, ...]:
    """The OS values a plan accepts (the platforms'), oldest first; imported when init runs, so
    ``clpbackup --help`` stays light."""
    from clpbackup.platforms import PLATFORMS

    return tuple(PLATFORMS)


@dataclass
class Answers:
    """What the plan is made of (one field per flag)."""

    os: str = ""  # the newest platform unless given
    cluster: str = "cluster1"
    group: str = "failover1"
    node_a: str = "node-a=192.0.2.11"
    node_b: str = "node-b=192.0.2.12"
    volumes: str = "E:"
    include: str = ""
    target: str = ""
    username: str = "EXAMPLE\\backup-admin"
    password_env: str = "CLPBACKUP_PASSWORD"  # noqa: S105 - the variable's name, not a password


_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("os", "Windows Server version"),
    ("cluster", "cluster name"),
    ("group", "failover group"),
    ("node_a", "home node (normally runs the group), NAME=HOST"),
    ("node_b", "standby node, NAME=HOST"),
    ("volumes", "switchover partition drive letter(s), comma-separated"),
    ("include", "folders of the local disks to back up, comma-separated"),
    ("target", "backup target"),
    ("username", "user name on the nodes (DOMAIN\\user)"),
    ("password_env", "environment variable that holds the password (never the password itself, SEC-1)"),
)


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", metavar="OUT", type=Path, help="the plan file to write (.yaml)")
    d = Answers()
    p.add_argument(
        "--os", help="Windows Server version of both nodes: 2003 … 2022 as in a plan (default: the newest)"
    )
    p.add_argument("--cluster", help=f"cluster name (default {d.cluster})")
    p.add_argument("--group", help=f"failover group (default {d.group})")
    p.add_argument("--node-a", metavar="NAME=HOST", help=f"home node (default {d.node_a})")
    p.add_argument("--node-b", metavar="NAME=HOST", help=f"standby node (default {d.node_b})")
    p.add_argument("--volumes", metavar="E:[,F:]", help=f"switchover partition(s) (default {d.volumes})")
    p.add_argument(
        "--include", metavar="PATHS",
        help="local folders, comma-separated (default C:\\data; D: on 2008, which backs up whole volumes)",
    )
    p.add_argument(
        "--target", metavar="T",
        help="backup target: a share folder ({node} is each node's name; default \\\\nas01\\backup\\{node}) "
        "from 2008 on; on 2003 the folder of the .bkf files (default D:\\ntbackup)",
    )
    p.add_argument("--username", help=f"user name on the nodes (default {d.username})")
    p.add_argument("--password-env", metavar="VAR", help=f"password variable (default {d.password_env})")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument(
        "--no-input", action="store_true", help="ask nothing even on a terminal: flags and defaults only"
    )


def _default_target(os: str) -> str:
    from clpbackup.platforms import get_platform

    return "D:\\ntbackup" if get_platform(os).backup_tool == "ntbackup" else "\\\\nas01\\backup\\{node}"


def _default_include(os: str) -> str:
    from clpbackup.platforms import get_platform

    # 2008 (RTM) wbadmin backs up whole volumes only (OS-1): the default must be valid there too.
    return "C:\\data" if get_platform(os).file_level else "D:"


_DEFAULTS: dict[str, Callable[[str], str]] = {"target": _default_target, "include": _default_include}


def _ask(answers: Answers, given: set[str], read: Callable[[str], str]) -> None:
    for field, question in _QUESTIONS:
        if field in given:
            continue
        default = getattr(answers, field) or (_DEFAULTS[field](answers.os) if field in _DEFAULTS else "")
        hint = f" ({', '.join(os_choices())})" if field == "os" else ""
        reply = read(f"{question}{hint} [{default}]: ").strip()
        setattr(answers, field, reply or default)


def _q(text: str) -> str:
    """A YAML single-quoted scalar: backslashes stay backslashes (Windows paths), ' is doubled."""
    return "'" + text.replace("'", "''") + "'"


def _split(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _node(text: str, flag: str) -> tuple[str, str]:
    name, sep, host = text.partition("=")
    if not sep or not name.strip() or not host.strip():
        raise ValueError(f"{flag}: {text!r} is not NAME=HOST (for example node-a=192.0.2.11)")
    return name.strip(), host.strip()


def render_plan(a: Answers) -> str:
    """The commented plan text for the answers (not yet checked)."""
    from clpbackup.platforms import get_platform

    platform = get_platform(a.os)
    ntbackup = platform.backup_tool == "ntbackup"
    target = a.target or _default_target(a.os)
    (na, ha), (nb, hb) = _node(a.node_a, "--node-a"), _node(a.node_b, "--node-b")
    volumes = _split(a.volumes)
    includes = _split(a.include or _default_include(a.os))
    tool = "NTBackup" if ntbackup else "Windows Server Backup (wbadmin)"
    lines = [
        f"# clpbackup plan: a {platform.display_name} pair backed up with {tool}.",
        "# Written by `clpbackup init`; check it with `clpbackup validate` and look at what it deploys",
        "# with `clpbackup render`. Field reference: docs/plan-reference.md; rules: docs/rules.md.",
        "cluster:",
        f"  name: {_q(a.cluster)}",
        f"  failover_group: {_q(a.group)}          # the group the switchover partition belongs to",
        f"  switchover_volumes: [{', '.join(_q(v) for v in volumes)}]   # the switchover partition",
        "nodes:",
        f"  - {{name: {_q(na)}, host: {_q(ha)}, os: {_q(a.os)}, home: true}}   # normally runs the group",
        f"  - {{name: {_q(nb)}, host: {_q(hb)}, os: {_q(a.os)}}}",
        "connection:",
        "  transport: psrp                     # PowerShell Remoting (WinRM)",
        f"  username: {_q(a.username)}",
        f"  password: {{env: {a.password_env}}}   # the variable's name, never the password (SEC-1)",
        "scripts_dir: 'C:\\clpbackup'           # where the batch files go on each node",
        "jobs:",
        "  local-daily:                        # local disks: same time on both nodes (JOB-1, SCH-1)",
        "    scope: local",
        f"    include: [{', '.join(_q(i) for i in includes)}]",
    ]
    if ntbackup:
        lines.append(f"    ntbackup: {{file: {_q(target.rstrip(chr(92)) + chr(92) + 'local-daily.bkf')}}}")
    else:
        lines.append(f"    target: {_q(target)}   # {{node}}: a folder per node (WSB-3)")
    lines += [
        '    daily_at: "01:00"',
        "    expected_duration: 2h",
        "  shared-daily:                       # the switchover partition: its own job (JOB-2)",
        "    scope: switchover",
        f"    include: [{', '.join(_q(v) for v in volumes)}]",
    ]
    if ntbackup:
        lines.append(f"    ntbackup: {{file: {_q(target.rstrip(chr(92)) + chr(92) + 'shared-daily.bkf')}}}")
    else:
        shared = target.replace("{node}", "{node}-shared") if "{node}" in target else target.rstrip("\\")
        lines.append(f"    target: {_q(shared)}")
    lines += [
        '    daily_at: "03:00"                   # the standby runs it at 04:15 (SCH-2: 03:00 + 1h + 15 min)',
        "    expected_duration: 1h",
        "failover_backup:                      # FO-2: a backup on the new owner after a failover",
        "  job: shared-daily",
        '  at: "06:00"                         # outside every daily window (SCH-3)',
    ]
    return "\n".join(lines) + "\n"


@subcommand("init", "write a commented plan from a few flags or questions, valid at once", _configure)
def _init(args: argparse.Namespace) -> int:
    from clpbackup.errors import PlanError
    from clpbackup.plan import Plan

    answers = Answers(os=os_choices()[-1])
    given: set[str] = set()
    for field in vars(answers):
        value = getattr(args, field, None)
        if value is not None:
            setattr(answers, field, value)
            given.add(field)
    if not args.no_input and sys.stdin.isatty():
        _ask(answers, given, input)
    if answers.os not in os_choices():
        print(f"clpbackup init: --os {answers.os!r} is not one of {', '.join(os_choices())}; nothing written",
              file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        text = render_plan(answers)
        plan = Plan.from_yaml(text)
    except (ValueError, PlanError) as exc:  # NAME=HOST malformed, or a name or host the plan refuses
        detail = _describe_plan_error(exc) if isinstance(exc, PlanError) else str(exc)
        print(f"clpbackup init: nothing written: {detail}", file=sys.stderr)
        return EXIT_UNREADABLE
    errors = [f for f in plan.findings() if f.severity == "error"]
    if errors:
        print("clpbackup init: these answers make a plan that breaks a rule; nothing written",
              file=sys.stderr)
        _print_findings(errors, sys.stderr, severities=("error",))
        return EXIT_FINDINGS
    out: Path = args.out
    if out.exists() and not args.force:
        print(f"clpbackup init: {out} exists; nothing written (--force replaces it)", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"clpbackup init: cannot write {out}: {exc.strerror}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(f"wrote {out}; next: clpbackup validate {out}")
    return EXIT_OK
