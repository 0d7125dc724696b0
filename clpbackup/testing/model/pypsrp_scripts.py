"""Python twins of the pipelines pypsrp's ``Client`` sends, for the per-command baseline.

clpbackup itself sends only its two named remote operations (:mod:`.ops`). The benchmarks
(``bench/run.py``) also measure the way a typical ops script does the same work — one pypsrp
``Client.execute_cmd`` / ``execute_ps`` / ``copy`` per command and file — against the same simulated
nodes. ``execute_cmd`` is a WinRS cmd command, which the node already runs (:mod:`.cmd`); the two
PSRP calls send pipelines outside the one-script shape, which the server hands to
:meth:`SimulatedWindows.invoke_pipeline <clpbackup.testing.model.node.SimulatedWindows.invoke_pipeline>`
and this module answers:

* ``Client.copy(src, dest)``: pypsrp's ``copy.ps1`` (recognised by its text, as the installed pypsrp
  sends it) with two positional arguments (``dest``, ``expand_variables``) and the file as pipeline
  input (base64 chunks, then the base64 of the SHA-1 hex digest). The twin checks the digest, writes
  the file as the script does (no parent folders created: ``[IO.File]::Move`` needs the folder) and
  answers the full path.
* ``Client.execute_ps(script)``: ``Invoke-Expression -Command <script> | Out-String -Stream``. Only the
  scripts built by the functions below are known (:func:`wsb_installed_script`,
  :func:`hash_file_script`); their output is the lines ``Out-String -Stream`` gives.

Anything else is "not simulated": the node records it and the pipeline fails with that message.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from clpbackup.errors import NotSimulated
from clpbackup.testing.backend import PipelineCommand, ScriptOutcome
from clpbackup.testing.model.fs import FsError
from clpbackup.testing.model.ops import _net_message

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.testing.model.node import SimulatedWindows

__all__ = ["copy_script", "hash_file_script", "invoke_pipeline", "wsb_installed_script"]


# -- the scripts the baseline sends through execute_ps (PowerShell 2.0 compatible) ------------------

_WSB_INSTALLED = "(Get-WindowsFeature -Name Windows-Server-Backup).Installed"
_HASH_FILE = (
    "$p = {path}; if (Test-Path -LiteralPath $p -PathType Leaf) {{ $s = [IO.File]::OpenRead($p); "
    "try {{ $h = [Security.Cryptography.SHA256]::Create().ComputeHash($s) }} finally {{ $s.Close() }}; "
    "-join ($h | ForEach-Object {{ $_.ToString('x2') }}) }}"
)
_PS_LITERAL = r"'((?:[^']|'')*)'"
_BEFORE, _AFTER = _HASH_FILE.format(path="\x00").split("\x00")
_HASH_FILE_RE = re.compile("^" + re.escape(_BEFORE) + _PS_LITERAL + re.escape(_AFTER) + "$")


def _ps_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def wsb_installed_script() -> str:
    """``True``/``False``: is Windows Server Backup installed (rule OS-3; Server 2012's cmdlet)."""
    return _WSB_INSTALLED


def hash_file_script(path: str) -> str:
    """The SHA-256 of a file as lower-case hex; no output when the file does not exist."""
    return _HASH_FILE.format(path=_ps_literal(path))


@functools.lru_cache(maxsize=1)
def copy_script() -> str:
    """The text of ``copy.ps1`` as the installed pypsrp sends it (comments and blank lines removed)."""
    from pypsrp._utils import get_pwsh_script

    return str(get_pwsh_script("copy.ps1"))


# -- dispatch ---------------------------------------------------------------------------------------


def invoke_pipeline(
    node: SimulatedWindows, commands: list[PipelineCommand], input: list[Any]
) -> ScriptOutcome:
    """Run the twin of a pypsrp ``Client`` pipeline (see the module docstring)."""
    if len(commands) == 1 and commands[0].is_script and _same_script(commands[0].text, copy_script()):
        return _copy(node, commands[0], input)
    if (
        len(commands) == 2
        and not commands[0].is_script
        and commands[0].text.lower() == "invoke-expression"
        and commands[1].text.lower() == "out-string"
    ):
        script = _named(commands[0], "Command")
        if isinstance(script, str):
            twin = _execute_ps_twin(script.strip())
            if twin is not None:
                return ScriptOutcome(output=twin(node), errors=[])
            what = f"execute_ps script {script[:80]!r}"
            raise NotSimulated(node.record_not_simulated(what), node=node.name)
    shape = " | ".join(c.text[:40] if not c.is_script else "<script>" for c in commands)
    raise NotSimulated(node.record_not_simulated(f"a pipeline of {shape}"), node=node.name)


def _same_script(a: str, b: str) -> bool:
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


def _named(cmd: PipelineCommand, name: str) -> Any:
    for key, value in cmd.parameters:
        if key is not None and key.lower() == name.lower():
            return value
    return None


def _execute_ps_twin(script: str) -> Callable[[SimulatedWindows], list[Any]] | None:
    if script == _WSB_INSTALLED:
        return _wsb_installed
    m = _HASH_FILE_RE.match(script)
    if m:
        path = m.group(1).replace("''", "'")
        return lambda node: _hash_file(node, path)
    return None


# -- twins ------------------------------------------------------------------------------------------


def _wsb_installed(node: SimulatedWindows) -> list[Any]:
    if node.family != "2012":
        # Server 2008 R2 needs Import-Module ServerManager first; 2003 and 2008 have no such cmdlet.
        raise NotSimulated(
            node.record_not_simulated(f"Get-WindowsFeature on Windows Server {node.os}"), node=node.name
        )
    return ["True" if node.wsb_installed else "False"]


def _hash_file(node: SimulatedWindows, path: str) -> list[Any]:
    proc = node.session_proc()
    if not node.fs.is_file(path, proc.cwd):
        return []
    try:
        data = node.fs.read_bytes(path, proc.cwd)
    except FsError as exc:
        raise RuntimeError(_net_message(node, exc, path, reading=True)) from None
    return [hashlib.sha256(data).hexdigest()]


def _copy(node: SimulatedWindows, cmd: PipelineCommand, input: list[Any]) -> ScriptOutcome:
    args = [value for name, value in cmd.parameters if name is None]
    if not args or not isinstance(args[0], str) or not input:
        raise NotSimulated(node.record_not_simulated("copy.ps1 without a path or input"), node=node.name)
    raw_path = args[0]
    expand = len(args) > 1 and args[1] is True
    proc = node.session_proc()
    if expand:
        raw_path = re.sub(r"%([^%]+)%", lambda m: proc.env.get(m.group(1)) or m.group(0), raw_path)
    try:
        chunks = [base64.b64decode(str(item or ""), validate=True) for item in input]
    except (binascii.Error, ValueError):
        raise RuntimeError("Invalid length for a Base-64 char array or string.") from None
    data = b"".join(chunks[:-1])
    expected = chunks[-1].decode("utf-8", "replace")
    actual = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    if actual != expected:
        raise RuntimeError(f"Transport failure, hash mismatch\r\nActual: {actual}\r\nExpected: {expected}")
    # GetUnresolvedProviderPathFromPSPath: relative to the session's location (the user's Documents).
    cwd = node.profile_dir(node.username) + "\\Documents"
    try:
        full = node.fs.full_path(raw_path, cwd)
        node.fs.write_bytes(full, data, cwd, mtime=node.clock.now())
    except FsError as exc:
        raise RuntimeError(
            f'Exception calling "Move" with "2" argument(s): "{_net_message(node, exc, raw_path)}"'
        ) from None
    return ScriptOutcome(output=[full], errors=[])
