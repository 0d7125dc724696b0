"""``clpbackup sim advance 24h | failover | failback | status | down NODE | up NODE | share-down SERVER
| share-up SERVER``: drive a running ``clpbackup simulate``.

The simulator writes its control file (address and token, mode 0600) next to the plan it wrote
(``--write-plan``); run these in that folder or name it with ``--dir``. Exit codes: 0 done, 2 no
simulator answers there, or bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from clpbackup.cli import EXIT_OK, EXIT_UNREADABLE, _emit_json, subcommand

_ACTIONS = ("status", "advance", "failover", "failback", "down", "up", "share-down", "share-up")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=_ACTIONS,
                   help="status, advance DURATION, failover, failback, down NODE, up NODE, "
                   "share-down SERVER or share-up SERVER")
    p.add_argument("duration", nargs="?", metavar="DURATION|NODE|SERVER",
                   help="advance: how far to move the simulated clock (24h, 90m, 1h30m, 2d); "
                   "down/up: the node whose WinRM endpoint stops answering (like a host that is off) "
                   "or answers again; share-down/share-up: the file server (nas01) whose shares stop "
                   "answering, so backups to it fail, or answer again")
    p.add_argument("--dir", default=".", metavar="DIR",
                   help="the folder of the plan `simulate --write-plan` wrote (default: here)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def _text(action: str, answer: dict[str, Any]) -> list[str]:
    if action == "status":
        lines = [
            f"cluster {answer['cluster']}: model time {answer['now']}, the group runs on {answer['owner']}"
        ]
        lines += [f"  {name}: {n['url']}  Windows Server {n['os']}" for name, n in answer["nodes"].items()]
        return lines
    if action == "advance":
        return [f"ran {item}" for item in answer["ran"]] + [f"model time {answer['now']}"]
    if action in ("down", "up"):
        what = "no longer answers (like a host that is off)" if action == "down" else "answers again"
        return [f"{answer['node']}: its WinRM endpoint {what}"]
    if action in ("share-down", "share-up"):
        what = ('no longer answer ("The network path was not found."): backups to them fail'
                if action == "share-down" else "answer again")
        return [f"\\\\{answer['server']}: its shares {what}"]
    script = answer.get("start_script")
    ran = (f"; start script {script['path']} ran with CLP_EVENT={script['event']}, exit code {script['rc']}"
           if script else "; no start script on that node")
    return [f"{action}: the group now runs on {answer['owner']}{ran}"]


@subcommand("sim", "drive a running `clpbackup simulate`: advance the clock, fail over, fail back, status",
            _configure)
def _sim(args: argparse.Namespace) -> int:
    from clpbackup.testing.control import ControlClient, ControlError, parse_duration

    body: dict[str, Any] = {}
    if args.action == "advance":
        try:
            body["seconds"] = parse_duration(args.duration or "")
        except ValueError as exc:
            print(f"clpbackup sim advance: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE
    elif args.action in ("down", "up"):
        if not args.duration:
            print(f"clpbackup sim {args.action}: name the node (clpbackup sim {args.action} node-b)",
                  file=sys.stderr)
            return EXIT_UNREADABLE
        body["node"] = args.duration
    elif args.action in ("share-down", "share-up"):
        if not args.duration:
            print(f"clpbackup sim {args.action}: name the file server (clpbackup sim {args.action} nas01)",
                  file=sys.stderr)
            return EXIT_UNREADABLE
        body["server"] = args.duration
    elif args.duration is not None:
        print(f"clpbackup sim {args.action}: takes no DURATION", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        answer = ControlClient(args.dir).call(args.action, **body)
    except ControlError as exc:
        print(f"clpbackup sim: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.format == "json":
        _emit_json(answer)
    else:
        for line in _text(args.action, answer):
            print(line)
    return EXIT_OK
