"""Python twins of the named remote operations (``docs/design.md``, "Two remote operations").

A script is recognised by its first line, ``# clpbackup-op: <name> v<version>``; its parameters
arrive as the pipeline's named parameters, exactly as the real ``.ps1`` receives them. The twin
answers the same Hashtable shape the ``.ps1`` emits (``clpbackup/transport/remote_ops/``), with the
same error texts where the script reports a .NET exception message. A script without a known marker
is not run: the outcome carries the error "not simulated: …" and the node records it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from clpbackup.testing.backend import ScriptOutcome
from clpbackup.testing.model.base import Proc
from clpbackup.testing.model.fs import (
    ERROR_ACCESS_DENIED,
    ERROR_ALREADY_EXISTS,
    ERROR_DISK_FULL,
    ERROR_FILE_NOT_FOUND,
    ERROR_FILENAME_EXCED_RANGE,
    ERROR_SHARING_VIOLATION,
    SID_ADMINISTRATORS,
    SID_SYSTEM,
    FolderAcl,
    FsError,
    network_credentials,
)

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.testing.model.node import SimulatedWindows

MARKER = re.compile(r"^\s*#\s*clpbackup-op:\s*([A-Za-z_][\w-]*)\s+v(\d+)\s*$")
NOT_RECOGNIZED_RC = 9009


def marker_of(script: str) -> tuple[str, int] | None:
    """``(name, version)`` of a script's marker line, or ``None``."""
    first = script.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    m = MARKER.match(first)
    if not m:
        return None
    return m.group(1), int(m.group(2))


def invoke(
    node: SimulatedWindows, script: str, parameters: dict[str, Any], input: list[Any]
) -> ScriptOutcome:
    """Run the twin of ``script`` (see the module docstring)."""
    marker = marker_of(script)
    twins: dict[tuple[str, int], Callable[[SimulatedWindows, dict[str, Any]], ScriptOutcome]] = {
        ("inspect", 1): inspect_v1,
        ("apply", 1): apply_v1,
    }
    if marker is None or marker not in twins:
        first = script.lstrip("\ufeff").split("\n", 1)[0][:80]
        what = (
            f"remote operation {marker[0]} v{marker[1]}"
            if marker
            else f"a script without a known '# clpbackup-op:' marker (first line: {first!r})"
        )
        return ScriptOutcome(output=[], errors=[node.record_not_simulated(what)])
    # PowerShell's own file access runs in the session's logon (no second hop without delegation)
    with network_credentials(node.winrm_delegation):
        return twins[marker](node, parameters)


# -- parameter coercion (what PowerShell's typed param() block does) --------------------------------
def _strings(params: dict[str, Any], name: str) -> list[str]:
    value = params.get(name)
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return ["" if v is None else str(v) for v in value]
    return [str(value)]


def _bool(params: dict[str, Any], name: str, default: bool) -> bool:
    value = params.get(name, default)
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "$false")
    return bool(value)


def _int(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name, default)
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return default


def _param_case(params: dict[str, Any]) -> dict[str, Any]:
    # PowerShell parameter names are case-insensitive.
    canonical = [
        "WantFacts",
        "HashPaths",
        "ReadPaths",
        "Programs",
        "Arguments",
        "ProbeVolumes",
        "ScriptsDir",
        "Clpstat",
        "CodePage",
        "CommandTimeoutSeconds",
        "WritePaths",
        "WriteContents",
        "WriteHashes",
        "DeletePaths",
        "LockedDirectories",
        "StopOnError",
        "LockPath",
        "LockOwner",
        "LockSeconds",
        "LockWaitSeconds",
        "GuardPaths",
        "GuardHashes",
        "GuardPrograms",
        "GuardArguments",
        "GuardOutputs",
        "GuardRefuse",
        "RecordPath",
        "RecordLines",
        "RecordWhen",
    ]
    by_lower = {c.lower(): c for c in canonical}
    return {by_lower.get(k.lower(), k): v for k, v in params.items()}


# -- .NET exception messages the scripts report ---------------------------------------------------------
def _net_message(node: SimulatedWindows, exc: FsError, path: str, *, reading: bool = False) -> str:
    ja = node.texts.ja
    if exc.winerror == ERROR_ACCESS_DENIED:
        return (
            f"パス '{path}' へのアクセスが拒否されました。"
            if ja
            else f"Access to the path '{path}' is denied."
        )
    if exc.winerror == ERROR_SHARING_VIOLATION:
        # the IOException of File.Delete / File.Move on a file another process holds open
        return (
            f"別のプロセスで使用されているため、プロセスはファイル '{path}' にアクセスできません。"
            if ja
            else f"The process cannot access the file '{path}' because it is being used by another process."
        )
    if exc.winerror == ERROR_FILE_NOT_FOUND and reading:
        return f"ファイル '{path}' が見つかりませんでした。" if ja else f"Could not find file '{path}'."
    if exc.winerror == ERROR_DISK_FULL:
        # IOException of a write on a full disk (the Win32 text of error 112)
        full_ja = "ディスクに十分な空き領域がありません。\r\n"
        return full_ja if ja else "There is not enough space on the disk.\r\n"
    if exc.winerror == ERROR_ALREADY_EXISTS:
        # File.Move onto an existing file or folder (the Win32 text of error 183)
        return (
            "既に存在するファイルを作成することはできません。\r\n"
            if ja
            else "Cannot create a file when that file already exists.\r\n"
        )
    if exc.winerror == ERROR_FILENAME_EXCED_RANGE:
        # .NET 2.0's PathTooLongException (PowerShell 2.0 on every supported version)
        return (
            "指定されたパス、ファイル名、またはその両方が長すぎます。完全限定型名は 260 文字未満で指定し、"
            "ディレクトリ名は 248 文字未満で指定してください。"
            if ja
            else "The specified path, file name, or both are too long. The fully qualified file name "
            "must be less than 260 characters, and the directory name must be less than 248 characters."
        )
    if exc.winerror == 53:
        return "ネットワーク パスが見つかりません。" if ja else "The network path was not found.\r\n"
    return (
        f"パス '{path}' の一部が見つかりませんでした。"
        if ja
        else f"Could not find a part of the path '{path}'."
    )


def _encoding(node: SimulatedWindows, codepage: int) -> str:
    page = codepage if codepage > 0 else node.codepage
    try:
        "".encode(f"cp{page}")
    except LookupError:
        return node.encoding
    return f"cp{page}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def invoke_native(
    node: SimulatedWindows, proc: Proc, program: str, arguments: str, index: int, codepage: int
) -> dict[str, Any]:
    """``Invoke-Native``: ``Process.Start`` (no shell), stdout/stderr decoded with the code page."""
    entry: dict[str, Any] = {
        "index": index,
        "program": program,
        "arguments": arguments,
        "rc": None,
        "stdout": "",
        "stderr": "",
        "ran": True,
    }
    result = node.create_process(proc, program, arguments)
    if result is None:
        node.record_not_simulated(f"program '{program}' (Process.Start failed: no such program on the node)")
        entry["rc"] = NOT_RECOGNIZED_RC
        entry["stderr"] = (
            "指定されたファイルが見つかりません。"
            if node.texts.ja
            else "The system cannot find the file specified"
        )
        return entry
    enc = _encoding(node, codepage)
    entry["stdout"] = node.encode(result.out).decode(enc, errors="replace")
    entry["stderr"] = node.encode(result.err).decode(enc, errors="replace")
    entry["rc"] = int(result.rc)
    return entry


def _file_state(node: SimulatedWindows, proc: Proc, path: str, read: bool) -> dict[str, Any]:
    state: dict[str, Any] = {"path": path, "sha256": None, "content_base64": None, "error": None}
    try:
        if node.fs.is_file(path, proc.cwd):
            data = node.fs.read_bytes(path, proc.cwd)
            state["sha256"] = _sha256(data)
            if read:
                state["content_base64"] = base64.b64encode(data).decode("ascii")
    except FsError as exc:
        state["error"] = _net_message(node, exc, path, reading=True)
    return state


def _volume_state(node: SimulatedWindows, letter: str) -> dict[str, Any]:
    name = letter[:1].upper() + ":"
    vol = node.fs.volume(name)
    present = vol is not None
    return {
        "letter": name,
        "present": present,
        "writable": bool(present and vol is not None and vol.writable),
    }


def facts(
    node: SimulatedWindows,
    proc: Proc,
    probe_volumes: list[str],
    scripts_dir: str,
    clpstat: bool,
    codepage: int,
) -> dict[str, Any]:
    """``Get-Facts`` of inspect v1."""
    volumes: list[dict[str, Any]] = []
    listed: set[str] = set()
    for letter in sorted(node.fs.volumes):
        state = _volume_state(node, letter)
        listed.add(state["letter"])
        volumes.append(state)
    for probe in probe_volumes:
        if probe:
            state = _volume_state(node, probe)
            if state["letter"] not in listed:
                listed.add(state["letter"])
                volumes.append(state)
    wsb: bool | None = None
    if node.os != "2003":
        wsb = node.fs.is_file(node.system32 + "\\wbadmin.exe")
    scripts: bool | None = None
    writers: list[str] | None = None
    if scripts_dir:
        scripts = node.fs.is_dir(scripts_dir, proc.cwd)
        if scripts:
            acl = node.fs.acl(scripts_dir, proc.cwd)
            writers = sorted({acl.owner, *acl.writers})
    clpstat_text: str | None = None
    if clpstat:
        kind, _ = node.resolve_program(proc, "clpstat.exe")
        if kind == "tool":
            run = invoke_native(node, proc, "clpstat.exe", "", 0, codepage)
            if run["rc"] == 0:
                clpstat_text = run["stdout"]
    return {
        "hostname": node.hostname,
        "os_version": node.os_version,
        "os_caption": node.personality.caption,
        "ps_version": node.ps_version,
        "oem_codepage": node.codepage,
        "volumes": volumes,
        "schedule_start_mode": node.schedule_start_mode,
        "schedule_state": node.schedule_state,
        "wsb_installed": wsb,
        "scripts_dir_exists": scripts,
        "scripts_dir_writers": writers,
        "clpstat": clpstat_text,
    }


_RECORD_ENTRY = re.compile(r'^\{"kind": "(file|canary)", "path": "((?:[^"\\]|\\.)*)"')
_REGEX_ESCAPES = {"\\": "\\", '"': '"', "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _regex_unescape(text: str) -> str | None:
    """``[regex]::Unescape`` for the escapes JSON writes (``None``: one it does not know, which
    Unescape refuses and inspect.ps1 skips)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", text[i + 2 : i + 6]):
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
        elif nxt in _REGEX_ESCAPES:
            out.append(_REGEX_ESCAPES[nxt])
            i += 2
        else:
            return None
    return "".join(out)


def inspect_v1(node: SimulatedWindows, raw: dict[str, Any]) -> ScriptOutcome:
    """The twin of ``inspect.ps1``."""
    params = _param_case(raw)
    proc = node.session_proc()
    codepage = _int(params, "CodePage", 0)
    out_facts = None
    if _bool(params, "WantFacts", True):
        out_facts = facts(
            node,
            proc,
            _strings(params, "ProbeVolumes"),
            str(params.get("ScriptsDir") or ""),
            _bool(params, "Clpstat", False),
            codepage,
        )
    order: list[str] = []
    wanted: dict[str, bool] = {}
    for path in _strings(params, "HashPaths"):
        if path not in wanted:
            wanted[path] = False
            order.append(path)
    for path in _strings(params, "ReadPaths"):
        if path not in wanted:
            order.append(path)
        wanted[path] = True
    record_path = str(params.get("RecordPath") or "")
    # PowerShell's @{} is case-insensitive: a path is asked for once whatever its case
    seen = {p.lower() for p in wanted}
    if record_path:
        same = next((p for p in order if p.lower() == record_path.lower()), None)
        if same is None:
            order.append(record_path)
            seen.add(record_path.lower())
        wanted[same or record_path] = True
    files = [_file_state(node, proc, p, wanted[p]) for p in order]
    record = next((f for f in files if record_path and f["path"].lower() == record_path.lower()), None)
    if record is not None and record["content_base64"] is not None:
        # OWN-1: each file and canary line of the record, matched by its exact shape
        text = base64.b64decode(record["content_base64"]).decode("ascii", "replace")
        for line in text.split("\n"):
            found = _RECORD_ENTRY.match(line)
            if found is None:
                continue
            listed = _regex_unescape(found.group(2))
            if listed is None or listed.lower() in seen:
                continue
            seen.add(listed.lower())
            files.append(_file_state(node, proc, listed, found.group(1) == "canary"))
    programs = _strings(params, "Programs")
    arguments = _strings(params, "Arguments")
    commands = [
        invoke_native(node, proc, programs[i], arguments[i] if i < len(arguments) else "", i, codepage)
        for i in range(len(programs))
    ]
    return ScriptOutcome(
        output=[{"op": "inspect", "version": 1, "facts": out_facts, "files": files, "commands": commands}],
        errors=[],
    )


def _write_one(
    node: SimulatedWindows, proc: Proc, path: str, content: str, expected_hash: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": path, "changed": False, "sha256": None, "error": None}
    expected = expected_hash.lower()
    temporary = path + ".clpbackup-tmp"
    try:
        if node.fs.is_file(path, proc.cwd):
            current = _sha256(node.fs.read_bytes(path, proc.cwd))
            if current == expected:
                entry["sha256"] = current
                return entry
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise _Thrown("Invalid character in a Base-64 string.") from None
        if _sha256(data) != expected:
            raise _Thrown("the content received does not match its SHA-256; nothing was written")
        folder = path.replace("/", "\\").rpartition("\\")[0]
        if folder and not node.fs.is_dir(folder, proc.cwd):
            try:
                node.fs.mkdir(folder, proc.cwd)
            except FsError as exc:
                raise _Thrown(_net_message(node, exc, folder)) from None
        try:
            node.fs.write_bytes(temporary, data, proc.cwd, mtime=node.clock.now())
            if node.fs.is_dir(path, proc.cwd):
                # .NET File.Move does not move into a folder (cmd's move does): a folder of that
                # name is in the way
                raise FsError(ERROR_ALREADY_EXISTS, path)
            node.fs.move(temporary, path, proc.cwd, replace=True)
        except FsError as exc:
            raise _Thrown(_net_message(node, exc, temporary)) from None
        entry["changed"] = True
        entry["sha256"] = expected
    except _Thrown as exc:
        entry["error"] = exc.message
        try:
            node.fs.delete(temporary, proc.cwd)
        except FsError:
            pass
    except FsError as exc:
        entry["error"] = _net_message(node, exc, path)
    return entry


class _Thrown(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def apply_v1(node: SimulatedWindows, raw: dict[str, Any]) -> ScriptOutcome:
    """The twin of ``apply.ps1``."""
    params = _param_case(raw)
    proc = node.session_proc()
    paths = _strings(params, "WritePaths")
    contents = _strings(params, "WriteContents")
    hashes = _strings(params, "WriteHashes")
    if len(contents) != len(paths) or len(hashes) != len(paths):
        return ScriptOutcome(
            output=[], errors=["apply: WritePaths, WriteContents and WriteHashes must have the same length"]
        )
    codepage = _int(params, "CodePage", 0)
    stop_on_error = _bool(params, "StopOnError", True)
    empty: dict[str, Any] = {
        "op": "apply",
        "version": 1,
        "files": [],
        "deleted": [],
        "delete_errors": [],
        "commands": [],
    }
    # ACL-1: the scripts folder first, locked; the node lock's file goes into it
    for folder in _strings(params, "LockedDirectories"):
        # New-LockedDirectory: created with SYSTEM and Administrators only, no inheritance
        if not node.fs.is_dir(folder, proc.cwd):
            try:
                node.fs.mkdir(folder, proc.cwd)
                node.fs.set_acl(
                    folder, FolderAcl(SID_ADMINISTRATORS, frozenset({SID_SYSTEM, SID_ADMINISTRATORS}), True),
                    proc.cwd,
                )
            except FsError:
                pass  # the first write into it reports the reason
    lock_path = str(params.get("LockPath") or "")
    if lock_path:
        try:
            held = _take_lock(node, proc, lock_path, params)
        except FsError as exc:
            # Enter-NodeLock rethrows what is not a sharing violation (a ``throw``): the pipeline
            # fails with the .NET reason (access denied, disk full) as its error record
            raise _Thrown(_net_message(node, exc, exc.path).strip()) from None
        if held is not None:
            busy = {"acquired": False, "busy": True, "holder": held}
            return ScriptOutcome(output=[{**empty, "lock": busy}], errors=[])
    stale = _stale_guards(node, proc, params, codepage)
    if stale:
        return ScriptOutcome(
            output=[{**empty, "lock": {"acquired": bool(lock_path), "busy": False}, "stale": stale}],
            errors=[],
        )
    failed = False
    files = []
    for i, path in enumerate(paths):
        entry = _write_one(node, proc, path, contents[i], hashes[i])
        if entry["error"] is not None:
            failed = True
        files.append(entry)
    deleted: list[str] = []
    delete_errors: list[dict[str, Any]] = []
    not_deleted: list[bool] = []
    for path in _strings(params, "DeletePaths"):
        gone = True
        try:
            if node.fs.is_file(path, proc.cwd):
                node.fs.delete(path, proc.cwd)
                deleted.append(path)
        except FsError as exc:
            delete_errors.append({"path": path, "error": _net_message(node, exc, path)})
            failed = True
            gone = False
        not_deleted.append(not gone)
    programs = _strings(params, "Programs")
    arguments = _strings(params, "Arguments")
    commands: list[dict[str, Any]] = []
    for i, program in enumerate(programs):
        argument_text = arguments[i] if i < len(arguments) else ""
        if stop_on_error and failed:
            commands.append(
                {
                    "index": i,
                    "program": program,
                    "arguments": argument_text,
                    "rc": None,
                    "stdout": "",
                    "stderr": "",
                    "ran": False,
                }
            )
            continue
        run = invoke_native(node, proc, program, argument_text, i, codepage)
        if run["rc"] != 0:
            failed = True
        commands.append(run)
    record = None
    record_path = str(params.get("RecordPath") or "")
    if record_path:
        data = _record_text(params, files, commands, not_deleted).encode("ascii")
        written = _write_one(
            node, proc, record_path, base64.b64encode(data).decode("ascii"), _sha256(data)
        )
        record = {"path": record_path, "sha256": written["sha256"], "error": written["error"]}
    return ScriptOutcome(
        output=[
            {
                "op": "apply",
                "version": 1,
                "lock": {"acquired": bool(lock_path), "busy": False, "holder": None},
                "stale": [],
                "record": record,
                "files": files,
                "deleted": deleted,
                "delete_errors": delete_errors,
                "commands": commands,
            }
        ],
        errors=[],
    )


# -- LOCK-1 and OWN-1 parts of apply.ps1 ----------------------------------------------------------------
def _take_lock(node: SimulatedWindows, proc: Proc, path: str, params: dict[str, Any]) -> str | None:
    """``Enter-NodeLock``: ``None`` when taken, else what the holder wrote. The whole operation runs
    under the model's lock, so the only holder there can be is one a test put into
    ``node.open_handles`` (a live process); it is reported at once instead of after the wait (the
    simulator does not sleep). A lock file nobody holds open is a crashed holder's: taken over."""
    if path.lower() in node.open_handles:
        try:
            return node.fs.read_bytes(path, proc.cwd).decode("utf-8", "replace").strip()
        except FsError:
            return ""
    folder = path.replace("/", "\\").rpartition("\\")[0]
    if folder and not node.fs.is_dir(folder, proc.cwd):
        node.fs.mkdir(folder, proc.cwd)
    now = node.clock.now()
    seconds = _int(params, "LockSeconds", 0)
    from datetime import timedelta

    text = (
        f"owner={params.get('LockOwner') or ''}\r\n"
        f"taken={now.strftime('%Y-%m-%dT%H:%M:%SZ')}\r\n"
        f"expires={(now + timedelta(seconds=seconds)).strftime('%Y-%m-%dT%H:%M:%SZ')}\r\n"
    )
    node.fs.write_bytes(path, text.encode("utf-8"), proc.cwd, mtime=now)
    return None


def _stale_guards(node: SimulatedWindows, proc: Proc, params: dict[str, Any], codepage: int) -> list[str]:
    """``Get-StaleGuards``."""
    stale: list[str] = []
    hashes = _strings(params, "GuardHashes")
    for i, path in enumerate(_strings(params, "GuardPaths")):
        now = ""
        if node.fs.is_file(path, proc.cwd):
            now = _sha256(node.fs.read_bytes(path, proc.cwd))
        if now != (hashes[i] if i < len(hashes) else "").lower():
            stale.append(path)
    programs = _strings(params, "GuardPrograms")
    arguments = _strings(params, "GuardArguments")
    outputs = _strings(params, "GuardOutputs")
    refuse = _strings(params, "GuardRefuse")
    for i, program in enumerate(programs):
        text = arguments[i] if i < len(arguments) else ""
        run = invoke_native(node, proc, program, text, i, codepage)
        pattern = refuse[i] if i < len(refuse) else ""
        # [regex]::IsMatch: .NET's syntax for the patterns clpbackup sends is Python's too
        changed = (
            re.search(pattern, run["stdout"]) is not None
            if pattern
            else run["stdout"] != (outputs[i] if i < len(outputs) else "")
        )
        if run["rc"] != 0 or changed:
            stale.append(f"{program} {text}".strip())
    return stale


_AT_ID = re.compile(r"\bID\s*=\s*(\d+)", re.IGNORECASE)


def _record_text(
    params: dict[str, Any],
    files: list[dict[str, Any]],
    commands: list[dict[str, Any]],
    not_deleted: list[bool],
) -> str:
    """``Get-RecordText``."""
    whens = _strings(params, "RecordWhen")
    kept: list[str] = []
    for i, line in enumerate(_strings(params, "RecordLines")):
        when = whens[i] if i < len(whens) else ""
        if when:
            kind, _, number = when.partition(":")
            k = int(number)
            if kind in ("wrote", "notwrote"):
                wrote = k < len(files) and files[k]["error"] is None
                if wrote != (kind == "wrote"):
                    continue
            elif kind == "notdeleted":
                if not (k < len(not_deleted) and not_deleted[k]):
                    continue
            else:
                ok = k < len(commands) and bool(commands[k]["ran"]) and commands[k]["rc"] == 0
                if kind == "ran":
                    if not ok:
                        continue
                    if '"@AT_ID@"' in line:
                        found = _AT_ID.search(str(commands[k]["stdout"]))
                        if found is None:
                            continue
                        line = line.replace('"@AT_ID@"', found.group(1))
                elif ok:
                    continue
        kept.append(line)
    return "".join(line + "\r\n" for line in kept)
