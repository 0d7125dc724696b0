"""The ``clpbackup`` command line (a thin shell over the library).

Subcommands are registered with :func:`subcommand`: each one is a function that adds its arguments to
an ``argparse`` parser and a handler that returns the exit code. Handlers import what they need when
they run, so ``clpbackup --help`` and the argument parsing stay fast.

Exit codes (every subcommand):

* ``0`` — done; for ``validate``: the plan has no error finding.
* ``1`` — the plan breaks a rule (error findings), or the operation failed.
* ``2`` — the plan cannot be read (file missing, not YAML/JSON, a field invalid), or bad arguments.

``--format json`` output is stable: keys are only ever added.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.artifacts import NodeArtifacts
    from clpbackup.errors import PlanError
    from clpbackup.plan import Plan
    from clpbackup.rules import Finding

__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_UNREADABLE", "Subcommand", "build_parser", "main", "subcommand"]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_UNREADABLE = 2

_SEVERITIES = ("error", "warning", "info")
_HEADINGS = {"error": "Errors", "warning": "Warnings", "info": "Notes"}


# -- the registry --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subcommand:
    """A registered subcommand: its name, one-line help, argument setup, handler and the longer
    text its own ``--help`` shows (``description``; the one-line help when empty)."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""


_REGISTRY: dict[str, Subcommand] = {}


def subcommand(
    name: str,
    help: str,
    configure: Callable[[argparse.ArgumentParser], None] | None = None,
    *,
    description: str = "",
) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Register the decorated handler as ``clpbackup <name>``.

    ``configure`` adds the subcommand's arguments to its parser. The handler gets the parsed
    arguments and returns the exit code. ``description`` is the text of ``clpbackup <name> --help``
    (each command has its own). Every subcommand also gets ``--format text|json`` (unless
    ``configure`` added it).
    """

    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        if name in _REGISTRY:
            raise ValueError(f"the subcommand {name!r} is registered twice")
        _REGISTRY[name] = Subcommand(name, help, configure or (lambda _p: None), run, description)
        return run

    return register


_EXIT_CODES = (
    "exit codes: 0 ok; 1 the plan breaks a rule, a node needs attention or the operation failed; "
    "2 the plan cannot be read, bad arguments or no password. Output contract: docs/cli.md."
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    from clpbackup import __version__

    parser = argparse.ArgumentParser(
        prog="clpbackup",
        description="Windows standard backups (NTBackup, Windows Server Backup) on NEC CLUSTERPRO X "
        "two-node clusters: check a plan against the guide's rules, render the batch files and "
        "schedules of each node.",
        epilog="Exit codes: 0 ok, 1 the plan breaks a rule or the operation failed, "
        "2 the plan cannot be read or bad arguments.",
    )
    parser.add_argument("--version", action="version", version=f"clpbackup {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    subs.required = True
    for cmd in _REGISTRY.values():
        sub = subs.add_parser(
            cmd.name, help=cmd.help, description=cmd.description or cmd.help, epilog=_EXIT_CODES
        )
        cmd.configure(sub)
        if "--format" not in sub._option_string_actions:
            _add_format(sub)
        sub.add_argument(
            "-v", "--verbose", action="count", default=0,
            help="log to stderr what is asked of which node, how long it takes, retries (-vv: more)",
        )
        sub.add_argument(
            "--log-file", metavar="PATH",
            help="append a detailed log (DEBUG) to PATH; never a password",
        )
        sub.set_defaults(_run=cmd.run, _command=cmd.name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (``python -m clpbackup`` and the console script)."""
    _tolerant_streams()
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help, --version, usage errors: argparse already printed
        return exc.code if isinstance(exc.code, int) else EXIT_UNREADABLE
    run: Callable[[argparse.Namespace], int] = args._run
    from clpbackup.cli_progress import setup_logging, teardown_logging

    try:
        setup_logging(args.verbose, args.log_file)
    except OSError as exc:
        teardown_logging()
        print(f"clpbackup: cannot write the log file {args.log_file}: {exc.strerror}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        return run(args)
    except KeyboardInterrupt as exc:
        print("interrupted", file=sys.stderr)
        for line in getattr(exc, "lines", lambda: [])():
            # OperationInterrupted: per node, what was written before the stop and what was not
            print(f"  {line}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `clpbackup schema | head`: the reader went away; stop quietly (and keep Python from
        # complaining again when it flushes stdout at exit).
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FINDINGS
    finally:
        teardown_logging()


def _tolerant_streams() -> None:
    """Never die on a character the terminal cannot show (a Japanese path on a cp1252 console)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # pragma: no cover - a stream that cannot be reconfigured
                pass


# -- shared pieces -------------------------------------------------------------------------------


def _add_plan(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan", metavar="PLAN", help="the plan file (.yaml, .yml or .json)")


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )


def _emit_json(data: Any, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    out.write(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))
    out.write("\n")


def _describe_plan_error(exc: PlanError) -> str:
    """``field (line N): message — hint`` with the pseudo field ``(file)`` left out."""
    where = ""
    if exc.field and exc.field != "(file)":
        where = exc.field + (f" (line {exc.line})" if exc.line is not None else "") + ": "
    elif exc.line is not None:
        where = f"line {exc.line}: "
    text = where + exc.message
    if exc.hint:
        text += f" — {exc.hint}"
    return text


def _plan_error_json(exc: PlanError) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "message": exc.message,
        "field": exc.field,
        "line": exc.line,
        "hint": exc.hint,
    }


def _load(args: argparse.Namespace) -> Plan | int:
    """The plan named on the command line, or the exit code after reporting why it cannot be read."""
    from clpbackup.errors import PlanError
    from clpbackup.plan import Plan

    try:
        return Plan.from_file(args.plan)
    except PlanError as exc:
        if args.format == "json":
            _emit_json({"plan": args.plan, "valid": False, "error": _plan_error_json(exc)})
        else:
            print(f"{args.plan}: cannot read the plan", file=sys.stderr)
            print(f"  {_describe_plan_error(exc)}", file=sys.stderr)
        return EXIT_UNREADABLE


def _counts(findings: Sequence[Finding]) -> dict[str, int]:
    return {sev: sum(1 for f in findings if f.severity == sev) for sev in _SEVERITIES}


def _summary(counts: dict[str, int]) -> str:
    def n(k: int, word: str) -> str:
        return f"{k} {word}" + ("" if k == 1 else "s")

    return f"{n(counts['error'], 'error')}, {n(counts['warning'], 'warning')}, {n(counts['info'], 'note')}"


def _print_findings(findings: Sequence[Finding], stream: TextIO, *, severities: Sequence[str]) -> None:
    for sev in severities:
        group = [f for f in findings if f.severity == sev]
        if not group:
            continue
        print(f"{_HEADINGS[sev]}:", file=stream)
        for f in group:
            where = f" [{f.where}]" if f.where else ""
            print(f"  {f.rule:<6} {f.message}{where}", file=stream)
            if f.field:
                print(f"         field: {f.field}", file=stream)
            if f.hint:
                print(f"         what to do: {f.hint}", file=stream)


# -- validate ------------------------------------------------------------------------------------


def _configure_validate(p: argparse.ArgumentParser) -> None:
    _add_plan(p)
    _add_format(p)
    p.add_argument("-q", "--quiet", action="store_true", help="text: leave out the notes (info findings)")


@subcommand("validate", "check a plan against the operating rules (offline)", _configure_validate)
def _validate(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    findings = loaded.findings()
    counts = _counts(findings)
    valid = counts["error"] == 0
    if args.format == "json":
        _emit_json(
            {
                "plan": args.plan,
                "valid": valid,
                "counts": counts,
                "findings": [f.to_json() for f in findings],
            }
        )
    else:
        verdict = "valid" if valid else "INVALID"
        print(f"{args.plan}: {verdict} — {_summary(counts)}")
        shown = ("error", "warning") if args.quiet else _SEVERITIES
        _print_findings(findings, sys.stdout, severities=shown)
    return EXIT_OK if valid else EXIT_FINDINGS


# -- render --------------------------------------------------------------------------------------


def _configure_render(p: argparse.ArgumentParser) -> None:
    _add_plan(p)
    p.add_argument("--node", metavar="N", help="render only this node")
    p.add_argument(
        "--out", metavar="DIR", type=Path, help="write the files to DIR/<node>/<file name> (exact bytes)"
    )
    p.add_argument(
        "--timeline", metavar="FILE", type=Path,
        help="also write the 24-hour schedule timeline of the nodes as SVG to FILE (SCH-2, SCH-3)",
    )
    _add_format(p)


def _windows_basename(path: str) -> str:
    import ntpath

    return ntpath.basename(path)


@subcommand(
    "render",
    "show (or write with --out) the batch files and schedules of each node (offline)",
    _configure_render,
)
def _render(args: argparse.Namespace) -> int:
    from clpbackup.errors import ClpBackupError, PlanError

    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    plan = loaded
    if args.node is not None:
        try:
            plan.node(args.node)
        except PlanError as exc:
            print(f"clpbackup render: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE

    # An invalid plan renders nothing: the rules run first, and nothing is written on an error.
    findings = plan.findings()
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        if args.format == "json":
            _emit_json({"plan": args.plan, "valid": False, "counts": _counts(findings),
                        "findings": [f.to_json() for f in errors]})
        else:
            print(f"{args.plan}: the plan breaks {len(errors)} rule check(s); nothing rendered",
                  file=sys.stderr)
            _print_findings(errors, sys.stderr, severities=("error",))
        return EXIT_FINDINGS

    warnings = [f for f in findings if f.severity == "warning"]
    if warnings and args.format == "text":
        # Rendered anyway (warnings do not block), but the operator sees them where errors would be.
        _print_findings(warnings, sys.stderr, severities=("warning",))

    try:
        rendered = plan.render(node=args.node)
    except ModuleNotFoundError as exc:
        if exc.name != "clpbackup.render":
            raise
        print("clpbackup render: rendering is not available in this installation "
              "(clpbackup.render is missing)", file=sys.stderr)
        return EXIT_FINDINGS
    except ClpBackupError as exc:
        print(f"clpbackup render: {exc}", file=sys.stderr)
        return EXIT_FINDINGS

    if args.out is not None:
        code = _write_out(args.out, rendered, quiet=args.format == "json")
        if code != EXIT_OK:
            return code
    if args.timeline is not None:
        try:
            args.timeline.write_text(plan.timeline_svg(), encoding="utf-8")
        except OSError as exc:
            print(f"clpbackup render: cannot write {args.timeline}: {exc.strerror}", file=sys.stderr)
            return EXIT_FINDINGS
        if args.format != "json":
            # stdout keeps the rendered text when there is one; with --out it lists what was written.
            stream = sys.stdout if args.out is not None else sys.stderr
            print(f"wrote {args.timeline} (schedule timeline)", file=stream)
    if args.format == "json":
        _emit_json({"nodes": {name: arts.to_json() for name, arts in rendered.items()}})
    elif args.out is None:
        _print_rendered(rendered)
    return EXIT_OK


def _write_out(out: Path, rendered: dict[str, NodeArtifacts], *, quiet: bool) -> int:
    """Write every file to ``out/<node>/<basename>``; refuse before writing anything on a clash."""
    planned: dict[Path, bytes] = {}
    for name, arts in rendered.items():
        for f in arts.files:
            dest = out / name / _windows_basename(f.path)
            if dest in planned:
                print(f"clpbackup render: two files of {name} are both named {dest.name}; nothing written",
                      file=sys.stderr)
                return EXIT_FINDINGS
            planned[dest] = f.content
    try:
        for dest, content in planned.items():
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(content)
    except OSError as exc:
        print(f"clpbackup render: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_FINDINGS
    if not quiet:
        for dest, content in planned.items():
            print(f"wrote {dest} ({len(content)} bytes)")
    return EXIT_OK


def _print_rendered(rendered: dict[str, NodeArtifacts]) -> None:
    from clpbackup.platforms import get_platform

    for name, arts in rendered.items():
        print(f"=== {name}: {get_platform(arts.os).display_name}, {arts.scheduler}, "
              f"code page {arts.codepage}")
        for f in arts.files:
            print(f"--- {f.path}  ({f.role}{', job ' + f.job if f.job else ''}; {f.encoding}, "
                  f"{len(f.content)} bytes)")
            text = f.text().replace("\r\n", "\n")
            print(text, end="" if text.endswith("\n") else "\n")
        if arts.schedules:
            print("--- schedules")
            for s in arts.schedules:
                kind = f"{s.kind} {','.join(s.days)}" if s.kind == "weekly" else s.kind
                print(f"  {s.name}: {kind} at {s.at} ({s.scheduler}, job {s.job})")
                print(f"    {s.command_line}")
        for note in arts.notes:
            print(f"note: {note}")
        print()


# -- schema --------------------------------------------------------------------------------------


@subcommand(
    "schema",
    "print the JSON Schema of a plan file",
    description="Print the JSON Schema (draft 2020-12) of a plan file. The output is JSON with "
    "--format text and --format json alike: the schema is the document.",
)
def _schema(args: argparse.Namespace) -> int:
    from clpbackup.plan import Plan

    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **Plan.json_schema()}
    _emit_json(schema)
    return EXIT_OK


# The operational subcommands live in their own module; importing it registers them.
import clpbackup.cli_ansible  # noqa: E402  (clpbackup ansible-path)
import clpbackup.cli_completion  # noqa: E402  (clpbackup completion)
import clpbackup.cli_init  # noqa: E402  (clpbackup init)
import clpbackup.cli_sim  # noqa: E402, F401  (clpbackup sim)
from clpbackup import cli_ops  # noqa: E402, F401
