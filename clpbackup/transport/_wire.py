"""The wire form of ``inspect`` v1 and ``apply`` v1: pipeline parameters out, Hashtables back.

Pure functions shared by the PSRP session and the tests: requests (:mod:`.types`) become the
parameters documented in ``docs/design.md``; the one Hashtable an operation emits (deserialized by
pypsrp into a ``dict``) becomes the result dataclasses. Anything that does not match the contract
raises :class:`~clpbackup.errors.ParseError` naming the operation and the field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from clpbackup.commands import Command
from clpbackup.errors import ParseError
from clpbackup.transport.types import (
    ApplyRequest,
    ApplyResult,
    CommandResult,
    CommandSpec,
    FileState,
    FileWriteResult,
    InspectRequest,
    InspectResult,
    NodeFacts,
    VolumeInfo,
)

__all__ = [
    "apply_parameters",
    "argv_of",
    "inspect_parameters",
    "native_command",
    "parse_apply",
    "parse_inspect",
    "select_output",
]


def argv_of(spec: CommandSpec) -> tuple[str, ...]:
    """The argv of a command given as a :class:`Command` or a list of strings."""
    if isinstance(spec, Command):
        return tuple(spec.argv)
    argv = tuple(spec)
    if not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError("a command is a non-empty list of strings (argv)")
    return argv


def native_command(spec: CommandSpec) -> tuple[str, str]:
    """``(Programs[i], Arguments[i])`` of a command (docs/design.md, "Native commands").

    The argument text is ``winquote.argument_string(argv[1:])`` (MSVCRT rules) or, for a
    :class:`Command` with ``raw_tail``, that text verbatim.
    """
    from clpbackup import winquote

    if isinstance(spec, Command):
        field = spec.field
        program = winquote.check_value(spec.argv[0], field=field)
        if spec.raw_tail is not None:
            return program, winquote.check_value(spec.raw_tail, field=field)
        return program, winquote.argument_string(spec.argv[1:], field=field)
    argv = argv_of(spec)
    return winquote.check_value(argv[0], field=None), winquote.argument_string(argv[1:])


def _commands(specs: Sequence[CommandSpec]) -> tuple[list[str], list[str]]:
    programs: list[str] = []
    arguments: list[str] = []
    for spec in specs:
        program, text = native_command(spec)
        programs.append(program)
        arguments.append(text)
    return programs, arguments


def inspect_parameters(req: InspectRequest, *, codepage: int, command_timeout: int) -> dict[str, Any]:
    """The pipeline parameters of ``inspect`` v1 for ``req``."""
    programs, arguments = _commands(req.commands)
    return {
        "WantFacts": bool(req.want_facts),
        "HashPaths": [str(p) for p in req.hash_paths],
        "ReadPaths": [str(p) for p in req.read_paths],
        "Programs": programs,
        "Arguments": arguments,
        "ProbeVolumes": [str(v) for v in req.probe_volumes],
        "ScriptsDir": req.scripts_dir or "",
        "RecordPath": req.record_path or "",
        "Clpstat": bool(req.clpstat),
        "CodePage": int(codepage),
        "CommandTimeoutSeconds": int(req.command_timeout or command_timeout),
    }


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def apply_parameters(req: ApplyRequest, *, codepage: int, command_timeout: int) -> dict[str, Any]:
    """The pipeline parameters of ``apply`` v1 for ``req``."""
    programs, arguments = _commands(req.commands)
    guard_files = [g for g in req.guards if g.command is None]
    guard_commands = [g for g in req.guards if g.command is not None]
    guard_programs, guard_arguments = _commands([g.command for g in guard_commands if g.command is not None])
    lock = req.lock
    record = req.record
    return {
        "LockPath": lock.path if lock else "",
        "LockOwner": lock.owner if lock else "",
        "LockSeconds": int(lock.lease_seconds) if lock else 0,
        "LockWaitSeconds": int(lock.wait_seconds) if lock else 0,
        "GuardPaths": [str(g.path) for g in guard_files],
        "GuardHashes": [g.sha256 or "" for g in guard_files],
        "GuardPrograms": guard_programs,
        "GuardArguments": guard_arguments,
        "GuardOutputs": [g.stdout for g in guard_commands],
        "GuardRefuse": [g.refuse for g in guard_commands],
        "RecordPath": record.path if record else "",
        "RecordLines": list(record.lines) if record else [],
        "RecordWhen": list(record.when) if record else [],
        "WritePaths": [w.path for w in req.writes],
        "WriteContents": [base64.b64encode(w.content).decode("ascii") for w in req.writes],
        "WriteHashes": [sha256_hex(w.content) for w in req.writes],
        "DeletePaths": [str(p) for p in req.deletes],
        "LockedDirectories": [str(p) for p in req.locked_dirs],
        "Programs": programs,
        "Arguments": arguments,
        "StopOnError": bool(req.stop_on_error),
        "CodePage": int(codepage),
        "CommandTimeoutSeconds": int(req.command_timeout or command_timeout),
    }


# -- output --------------------------------------------------------------------------------------


class _Reader:
    """Typed access to one Hashtable of the output; errors name the operation and the field."""

    def __init__(self, op: str, node: str, data: Any, where: str = "") -> None:
        self.op = op
        self.node = node
        self.where = where
        if not isinstance(data, Mapping):
            raise self.error(f"expected a Hashtable, got {type(data).__name__}", data)
        self.data = data

    def error(self, reason: str, data: Any = None) -> ParseError:
        shown = repr(data if data is not None else getattr(self, "data", None))
        at = f" at {self.where}" if self.where else ""
        return ParseError(f"the {self.op} operation", shown[:400], f"{reason}{at}", node=self.node)

    def _get(self, key: str, required: bool) -> Any:
        if key not in self.data:
            if required:
                raise self.error(f"the field {key!r} is missing")
            return None
        return self.data[key]

    def str_(self, key: str, *, optional: bool = False, required: bool = True) -> str | None:
        value = self._get(key, required)
        if value is None:
            if optional or not required:
                return None
            raise self.error(f"the field {key!r} is empty")
        if not isinstance(value, str):
            raise self.error(f"the field {key!r} is not text but {type(value).__name__}")
        return value

    def text(self, key: str) -> str:
        value = self._get(key, False)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.error(f"the field {key!r} is not text but {type(value).__name__}")
        return value

    def int_(self, key: str, *, optional: bool = False) -> int | None:
        value = self._get(key, not optional)
        if value is None:
            if optional:
                return None
            raise self.error(f"the field {key!r} is empty")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"the field {key!r} is not an integer but {type(value).__name__}")
        return value

    def bool_(self, key: str, *, optional: bool = False) -> bool | None:
        value = self._get(key, not optional)
        if value is None:
            if optional:
                return None
            raise self.error(f"the field {key!r} is empty")
        if not isinstance(value, bool):
            raise self.error(f"the field {key!r} is not a boolean but {type(value).__name__}")
        return value

    def list_(self, key: str, *, required: bool = True) -> list[Any]:
        value = self._get(key, required)
        if value is None:
            return []
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
            # PowerShell unrolls a one-element array only in the pipeline, never inside a
            # Hashtable; a lone element here is still accepted as a list of one.
            if isinstance(value, Mapping) or (isinstance(value, str) and key == "deleted"):
                return [value]
            raise self.error(f"the field {key!r} is not a list but {type(value).__name__}")
        return list(value)

    def sub(self, value: Any, where: str) -> _Reader:
        return _Reader(self.op, self.node, value, where)


def select_output(output: Sequence[Any], op: str, node: str) -> Mapping[str, Any]:
    """The one Hashtable ``op`` emitted (``op`` field equal to the operation's name)."""
    tables = [o for o in output if isinstance(o, Mapping) and o.get("op") == op]
    if len(tables) != 1:
        shown = repr(list(output))[:400]
        why = "no result Hashtable" if not tables else f"{len(tables)} result Hashtables"
        raise ParseError(f"the {op} operation", shown, f"it emitted {why} (expected exactly one)", node=node)
    return tables[0]


def _check_header(r: _Reader, op: str) -> None:
    version = r.int_("version")
    if version != 1:
        raise r.error(f"version {version} is not supported (clpbackup speaks {op} v1)")


def _commands_result(r: _Reader, specs: Sequence[CommandSpec]) -> list[CommandResult]:
    items = r.list_("commands")
    if len(items) != len(specs):
        raise r.error(f"{len(items)} command results for {len(specs)} commands")
    out: list[CommandResult] = []
    for i, (item, spec) in enumerate(zip(items, specs, strict=True)):
        c = r.sub(item, f"commands[{i}]")
        index = c.int_("index")
        if index != i:
            raise c.error(f"the result is for command {index}, expected {i}")
        ran = c.bool_("ran")
        rc = c.int_("rc", optional=True)
        out.append(
            CommandResult(
                argv=argv_of(spec), rc=rc, stdout=c.text("stdout"), stderr=c.text("stderr"), ran=bool(ran)
            )
        )
    return out


def _facts(r: _Reader) -> NodeFacts:
    volumes = []
    for i, item in enumerate(r.list_("volumes")):
        v = r.sub(item, f"facts.volumes[{i}]")
        letter = v.str_("letter")
        assert letter is not None
        volumes.append(
            VolumeInfo(
                letter=letter.upper(), present=bool(v.bool_("present")), writable=bool(v.bool_("writable"))
            )
        )
    hostname = r.str_("hostname")
    os_version = r.str_("os_version")
    codepage = r.int_("oem_codepage")
    assert hostname is not None and os_version is not None and codepage is not None
    return NodeFacts(
        hostname=hostname,
        os_version=os_version,
        os_caption=r.text("os_caption"),
        ps_version=r.str_("ps_version", optional=True),
        oem_codepage=codepage,
        volumes=tuple(volumes),
        schedule_start_mode=r.str_("schedule_start_mode", optional=True),
        schedule_state=r.str_("schedule_state", optional=True),
        wsb_installed=r.bool_("wsb_installed", optional=True),
        scripts_dir_exists=r.bool_("scripts_dir_exists", optional=True),
        clpstat=r.str_("clpstat", optional=True, required=False),
        scripts_dir_writers=_sids(r),
    )


def _sids(r: _Reader) -> tuple[str, ...] | None:
    if r._get("scripts_dir_writers", False) is None:
        return None
    out = []
    for i, item in enumerate(r.list_("scripts_dir_writers", required=False)):
        if not isinstance(item, str) or not item.startswith("S-1-"):
            raise r.error(f"scripts_dir_writers[{i}] is not a SID")
        out.append(item)
    return tuple(out)


def parse_inspect(data: Mapping[str, Any], req: InspectRequest, *, node: str) -> InspectResult:
    """The :class:`InspectResult` of an ``inspect`` v1 Hashtable answering ``req``."""
    r = _Reader("inspect", node, data)
    _check_header(r, "inspect")
    facts = None
    raw_facts = r._get("facts", True)
    if req.want_facts:
        if raw_facts is None:
            raise r.error("facts were asked for but the node returned none")
        facts = _facts(r.sub(raw_facts, "facts"))
    files: dict[str, FileState] = {}
    wanted_read = {p.lower() for p in req.read_paths}
    for i, item in enumerate(r.list_("files")):
        f = r.sub(item, f"files[{i}]")
        path = f.str_("path")
        assert path is not None
        sha = f.str_("sha256", optional=True)
        encoded = f.str_("content_base64", optional=True)
        content = None
        if encoded is not None:
            try:
                content = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise f.error("content_base64 is not base64") from None
            if sha is not None and sha256_hex(content) != sha.lower():
                raise f.error("the content does not match its SHA-256 (damaged on the way)")
        elif sha is not None and path.lower() in wanted_read:
            raise f.error("the file exists but its content was not returned")
        files[path] = FileState(
            path=path,
            sha256=sha.lower() if sha else None,
            content=content,
            error=f.str_("error", optional=True, required=False),
        )
    expected = {p.lower() for p in [*req.hash_paths, *req.read_paths]}
    missing = expected - {p.lower() for p in files}
    if missing:
        raise r.error(f"no answer for the files {sorted(missing)}")
    return InspectResult(facts=facts, files=files, commands=_commands_result(r, req.commands))


def parse_apply(data: Mapping[str, Any], req: ApplyRequest, *, node: str) -> ApplyResult:
    """The :class:`ApplyResult` of an ``apply`` v1 Hashtable answering ``req``."""
    r = _Reader("apply", node, data)
    _check_header(r, "apply")
    lock_holder = None
    stale: tuple[str, ...] = ()
    raw_lock = r._get("lock", False)
    if raw_lock is not None:
        lk = r.sub(raw_lock, "lock")
        if lk.bool_("busy", optional=True):
            lock_holder = lk.text("holder") or "an unknown holder"
    raw_guard = r._get("stale", False)
    if raw_guard is not None:
        stale = tuple(str(x) for x in r.list_("stale", required=False))
    if lock_holder is not None or stale:
        # nothing ran: the node answers with empty lists
        return ApplyResult(
            commands=[
                CommandResult(argv=argv_of(s), rc=None, stdout="", stderr="", ran=False) for s in req.commands
            ],
            lock_holder=lock_holder,
            stale=stale,
        )
    items = r.list_("files")
    if len(items) != len(req.writes):
        raise r.error(f"{len(items)} file results for {len(req.writes)} writes")
    files: list[FileWriteResult] = []
    for i, (item, write) in enumerate(zip(items, req.writes, strict=True)):
        f = r.sub(item, f"files[{i}]")
        path = f.str_("path")
        if path is None or path.lower() != write.path.lower():
            raise f.error(f"the result is for {path!r}, expected {write.path!r}")
        error = f.str_("error", optional=True, required=False)
        sha = f.str_("sha256", optional=True)
        changed = bool(f.bool_("changed"))
        if error is None and (sha is None or sha.lower() != sha256_hex(write.content)):
            raise f.error("the node reports a SHA-256 that is not the one of the content sent")
        files.append(
            FileWriteResult(
                path=write.path,
                changed=changed and error is None,
                sha256=(sha or "").lower() if error is None else "",
                error=error,
            )
        )
    deleted = [str(p) for p in r.list_("deleted", required=False)]
    delete_errors: dict[str, str] = {}
    for i, item in enumerate(r.list_("delete_errors", required=False)):
        d = r.sub(item, f"delete_errors[{i}]")
        path = d.str_("path")
        assert path is not None
        delete_errors[path] = d.text("error")
    record_sha = None
    record_error = None
    raw_record = r._get("record", False)
    if raw_record is not None:
        rr = r.sub(raw_record, "record")
        record_sha = rr.str_("sha256", optional=True, required=False)
        record_error = rr.str_("error", optional=True, required=False)
    return ApplyResult(
        files=files,
        deleted=deleted,
        commands=_commands_result(r, req.commands),
        delete_errors=delete_errors,
        record_sha256=record_sha.lower() if record_sha else None,
        record_error=record_error,
    )
