"""``clpbackup status PLAN --format html|md --out FILE``: the status report to hand over.

The options are added to the ``status`` subcommand of :mod:`clpbackup.cli_ops`; the page itself is
built by :mod:`clpbackup.report`. Without ``--out`` the report goes to stdout. Exit codes as for
``status``: 0 every node ok, 1 problems found (the report is written all the same: it is what a
change ticket needs), 2 the report cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clpbackup.cli import EXIT_FINDINGS, EXIT_OK, EXIT_UNREADABLE

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.plan import Plan
    from clpbackup.results import ClusterResult

REPORT_FORMATS = ("html", "md")


def add_report_options(p: argparse.ArgumentParser) -> None:
    """Let ``--format`` also take ``html`` and ``md``, and add ``--out FILE``."""
    for action in p._actions:
        if action.dest == "format" and action.choices is not None:
            action.choices = (*action.choices, *REPORT_FORMATS)
            action.help = "output format (default: text); html or md: a standalone report (see --out)"
    p.add_argument(
        "--out", metavar="FILE", type=Path,
        help="with --format html or md: write the report to FILE instead of stdout",
    )


def write_report(args: argparse.Namespace, plan: Plan, result: ClusterResult[Any]) -> int:
    """Write the report of ``result`` in ``args.format`` to ``args.out`` (or stdout); the exit code."""
    from clpbackup.report import status_report_html, status_report_markdown

    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    build = status_report_html if args.format == "html" else status_report_markdown
    text = build(plan, result, generated=generated)
    if args.out is None:
        sys.stdout.write(text)
    else:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"clpbackup status: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
            return EXIT_UNREADABLE
        state = "ok" if result.ok else "NEEDS ATTENTION"
        print(f"status: {state}; wrote {args.out} ({args.format} report)", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FINDINGS
