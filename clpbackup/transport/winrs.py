"""WinRS sessions: nodes that have WinRM but no PowerShell (Windows Server 2003 without WMF 2.0).

A :class:`WinrsSession` opens **one** WinRS cmd shell (pypsrp ``WinRS``) lazily, runs every
command as a ``Process`` in that shell (WS-Man Command, Receive until done, Signal terminate), and
deletes the shell in :meth:`WinrsSession.close`. It offers the same :class:`~.base.Session`
interface as the PowerShell session, built from cmd.exe tools only. The exact command lines it
sends are listed in ``docs/design.md`` ("WinRS command set"); nothing else is sent.

Limits (what PowerShell does better, and why PSRP is the default):

* **Many round trips.** Each cmd statement is its own WinRS command (three or more WS-Man
  requests): facts take about a dozen commands, reading a file four, writing a file about ten plus
  one per 6,000 characters of base64. Fine for batch files; slow for large files.
* **No SHA-256 on the node.** 2003's certutil has no ``-hashfile SHA256``: a file is read back
  (``certutil -encode`` + ``type``) and hashed here. "Skipped when the hash is equal" costs a read.
* **Writes are checked, then moved.** The bytes travel as base64 lines appended with ``echo`` to
  ``<path>.clpbackup-b64``, are decoded with ``certutil -decode`` to ``<path>.clpbackup-tmp``,
  read back and compared, and moved over the target with ``move /y`` (MoveFileEx: not the
  transactional ``File.Replace`` of the PowerShell operation, but never a half-written target).
* **Paths** must not contain ``& < > ( ) @ ^ | % ! "`` (cmd.exe would reinterpret them); they are
  refused with a :class:`~clpbackup.errors.QuotingError`. Native command lines get ``^`` before cmd
  operators outside quotes; a ``%`` or ``!`` in a command line is refused (cmd.exe expands them).
* **Facts are thinner**: ``ps_version`` is ``None``; the volumes are ``C:`` and the probed ones
  (no enumeration of fixed drives); ``os_caption`` is derived from the version number;
  ``oem_codepage`` is what ``chcp`` reports in the shell (the OEM code page unless the node was
  changed).
* **Output is decoded here** with the plan's ``connection.codepage``; bytes that are not valid in
  that code page raise :class:`~clpbackup.errors.ParseError` with a hint about the code page.
* **No node lock** (LOCK-1): cmd.exe has no way to hold a file open across the separate commands of
  an apply. The apply's guards (the record's hash, the ``at`` listing) are checked again first and
  the record (OWN-1) is written last, as with PowerShell, but two deploys over WinRS at the same
  moment are not kept apart: run them one at a time.
* An empty file is written with ``type nul``; reading an empty file depends on certutil (2003's
  certutil refuses to encode zero bytes: it is then reported as a read error).

Reads (shell open, ``inspect``) are retried by the :class:`~.retry.RetryPolicy`; ``apply`` never is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pypsrp.shell import CommandState, Process, SignalCode, WinRS
from pypsrp.wsman import WSMan

from clpbackup import winquote
from clpbackup.commands import Command
from clpbackup.errors import ClpBackupError, NodeTimeout, ParseError, QuotingError
from clpbackup.record import AT_ID_TOKEN, parse_record
from clpbackup.transport._connect import open_wsman
from clpbackup.transport._errors import codepage_error, is_network_error, map_error, mark, pool_is_broken
from clpbackup.transport._logging import log
from clpbackup.transport._remote import WinRMSession
from clpbackup.transport._wire import argv_of
from clpbackup.transport.retry import RetryPolicy
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
    RecordWrite,
    VolumeInfo,
)

if TYPE_CHECKING:  # pragma: no cover

    from clpbackup.plan import Connection

__all__ = ["Process", "WSMan", "WinRS", "WinrsSession", "cmd_command_line"]

#: Base64 characters per ``echo`` line when writing a file (cmd.exe lines end at 8,191 chars).
CHUNK = 6000

_NOT_RECOGNIZED = 9009

_START_TYPES = {"2": "Auto", "3": "Manual", "4": "Disabled", "0": "Boot", "1": "System"}
_STATES = {
    "1": "Stopped",
    "2": "Start Pending",
    "3": "Stop Pending",
    "4": "Running",
    "5": "Continue Pending",
    "6": "Pause Pending",
    "7": "Paused",
}


def cmd_command_line(spec: CommandSpec) -> str:
    """The line cmd.exe gets for a native command through WinRS.

    The MSVCRT command line of :func:`clpbackup.winquote.command_line`, with ``^`` before cmd
    operators (``& | < > ^ ( )``) outside double quotes so cmd.exe passes them on. ``%`` and
    ``!`` are refused: cmd.exe expands them on a command line and no escape is reliable there.
    """
    cmd = spec if isinstance(spec, Command) else Command(argv=argv_of(spec), os="2003")
    line = winquote.command_line(cmd)
    out: list[str] = []
    quoted = False
    for ch in line:
        if ch in "%!":
            raise QuotingError(
                f"the command line {line[:80]!r} contains {ch!r}, which cmd.exe expands",
                field=cmd.field,
                hint="the WinRS transport runs commands through cmd.exe; remove the character, or use "
                "the PowerShell transport (connection.transport: psrp)",
            )
        if ch == '"':
            quoted = not quoted
            out.append(ch)
        elif not quoted and ch in winquote.BATCH_METACHARACTERS:
            out.append("^" + ch)
        else:
            out.append(ch)
    if quoted:
        raise QuotingError(f"the command line {line[:80]!r} has an unbalanced double quote", field=cmd.field)
    return "".join(out)


def _path(path: str, field: str = "path") -> str:
    """``"<path>"`` for a cmd line; paths cmd.exe would reinterpret are refused."""
    return '"' + winquote.cmd_c_path(path, field=field) + '"'


def _folder(path: str) -> str:
    head, _, _ = path.rstrip("\\").rpartition("\\")
    return head


@dataclass
class _Run:
    """The raw outcome of one command line."""

    line: str
    rc: int | None
    stdout: bytes
    stderr: bytes


class WinrsSession(WinRMSession):
    """A session with one node through a WinRS cmd shell (no PowerShell needed)."""

    def __init__(
        self,
        node: str,
        host: str,
        connection: Connection,
        *,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(node, host, connection, retry=retry, clock=clock)
        self._shell: WinRS | None = None
        self._tag = secrets.token_hex(4)  # per-session temp names on the node
        self._deadline_at: float | None = None
        #: Command lines sent, in order (for tests and troubleshooting; no file contents).
        self.sent: list[str] = []

    @property
    def is_open(self) -> bool:
        """True while the cmd shell is open on the node."""
        return self._shell is not None

    def __repr__(self) -> str:
        c = self.connection
        return (
            f"WinrsSession(node={self.node!r}, host={self.host!r}, port={c.effective_port}, auth={c.auth!r}, "
            f"username={c.username!r}, {'open' if self._shell is not None else 'closed'})"
        )

    # -- the shell --------------------------------------------------------------------------------

    def _open_shell(self) -> WinRS:
        wsman, secret = open_wsman(self.node, self.host, self.connection)
        self._secret = secret
        shell = WinRS(wsman)
        try:
            shell.open()
        except Exception as exc:
            err = map_error(exc, node=self.node, phase="open", secret=secret)
            self._close_quietly(wsman, shell, send_delete=not is_network_error(err))
            raise err from None
        self._wsman, self._shell = wsman, shell
        self._note_delegation(wsman)
        log.info("%s: WinRS shell open on %s", self.node, self.host)
        return shell

    def _ensure_open(self) -> None:
        self._ensure_shell()

    def _ensure_shell(self) -> WinRS:
        if self._shell is not None:
            return self._shell
        return self.retry.call(self._open_shell, what="open", node=self.node, on_retry=self._discard)

    def _discard(self, exc: BaseException | None = None) -> None:
        wsman, shell = self._wsman, self._shell
        self._wsman = self._shell = None
        if wsman is None and shell is None:
            return
        self._close_quietly(wsman, shell, send_delete=exc is None or not is_network_error(exc))

    def _close_quietly(self, wsman: WSMan | None, shell: WinRS | None, *, send_delete: bool) -> None:
        if shell is not None and send_delete:
            try:
                shell.close()
            except Exception as exc:
                log.debug("%s: closing a broken WinRS shell failed: %s", self.node, type(exc).__name__)
        if wsman is not None:
            wsman.close()

    # -- one command line -------------------------------------------------------------------------

    def _exec(self, line: str, *, timeout: int | None = None, what: str = "command") -> _Run:
        """Run one cmd line in the shell; rc ``None`` when it was stopped after ``timeout``."""
        shell = self._shell if self._shell is not None else self._open_shell()
        limit = timeout if timeout is not None else self.connection.deadline
        started = self._clock()
        self.sent.append(line)
        process = Process(shell, line)
        try:
            process.begin_invoke()
            while process.state != CommandState.DONE:
                now = self._clock()
                overall = (self._deadline_at - now) if self._deadline_at is not None else float("inf")
                own = started + limit - now
                if overall <= 0:
                    self._signal(process)
                    raise mark(
                        NodeTimeout(
                            f"the WinRS {what} did not finish within the deadline of "
                            f"{self.connection.deadline} s and was stopped",
                            node=self.node,
                            hint="a command on the node may hang; raise connection.deadline if it is slow",
                        ),
                        broken=True,
                    )
                if own <= 0:
                    self._signal(process)
                    note = f"\r\nclpbackup: the program was stopped after {limit} seconds".encode("ascii")
                    return _Run(line, None, process.stdout, process.stderr + note)
                wait = max(1, int(min(self.connection.operation_timeout, overall, own) + 0.999))
                process.poll_invoke(timeout=wait)
            self._signal(process)
        except ClpBackupError as known:
            if pool_is_broken(known):
                self._discard(known)
            raise
        except Exception as exc:
            err = map_error(exc, node=self.node, phase=what, secret=self._secret)
            if pool_is_broken(err):
                self._discard(err)
            raise err from None
        return _Run(line, process.rc, process.stdout, process.stderr)

    def _signal(self, process: Process) -> None:
        # Terminate releases the command on the node (after completion too, as WinRM expects).
        try:
            process.signal(SignalCode.TERMINATE)
        except Exception as exc:
            log.debug("%s: terminate signal failed: %s", self.node, type(exc).__name__)

    def _text(self, data: bytes, tool: str) -> str:
        try:
            return data.decode(f"cp{self.codepage}")
        except UnicodeDecodeError:
            raise codepage_error(self.node, tool, data, self.codepage) from None

    def _yes(self, line: str) -> bool:
        """Run an ``if exist … echo yes`` line; True when it printed yes."""
        run = self._exec(line, what="existence test")
        return self._text(run.stdout, "if exist").strip().lower() == "yes"

    # -- facts ------------------------------------------------------------------------------------

    def _facts(self, req: InspectRequest) -> NodeFacts:
        ver = self._text(self._exec("ver", what="ver").stdout, "ver")
        m = re.search(r"(\d+)\.(\d+)\.(\d+)", ver)
        if m is None:
            raise _parse_error(self.node, "ver", ver, "no version number such as 5.2.3790")
        version = f"{m.group(1)}.{m.group(2)}.{m.group(3)}"
        hostname = self._text(self._exec("hostname", what="hostname").stdout, "hostname").strip()
        chcp = self._text(self._exec("chcp", what="chcp").stdout, "chcp")
        cp = re.search(r"(\d+)\s*$", chcp.strip())
        if cp is None:
            raise _parse_error(self.node, "chcp", chcp, "no code page number")
        qc = self._exec("sc qc Schedule", what="sc qc")
        query = self._exec("sc query Schedule", what="sc query")
        start = re.search(r"START_TYPE\s*:\s*(\d)", self._text(qc.stdout, "sc qc")) if qc.rc == 0 else None
        state = (
            re.search(r"STATE\s*:\s*(\d)", self._text(query.stdout, "sc query")) if query.rc == 0 else None
        )
        wsb = None
        if int(m.group(1)) >= 6:
            wsb = self._yes('if exist "%SystemRoot%\\system32\\wbadmin.exe" echo yes')
        scripts = None
        if req.scripts_dir:
            scripts = self._yes(
                f"if exist {_path(req.scripts_dir.rstrip(chr(92)) + chr(92), 'scripts_dir')} echo yes"
            )
        volumes = []
        letters = ["C:"]
        for v in req.probe_volumes:
            letter = winquote.check_value(v, field="cluster.switchover_volumes")[:1].upper() + ":"
            if not re.match(r"^[A-Z]:$", letter):
                raise QuotingError(f"{v!r} is not a drive letter", field="cluster.switchover_volumes")
            if letter not in letters:
                letters.append(letter)
        for letter in letters:
            present = self._yes(f"if exist {letter}\\ echo yes")
            writable = False
            if present:
                probe = f'"{letter}\\.clpbackup-probe-{self._tag}"'
                writable = self._exec(f"echo clpbackup>{probe}", what="volume probe").rc == 0
                if writable:
                    self._exec(f"del /q {probe}", what="volume probe")
            volumes.append(VolumeInfo(letter=letter, present=present, writable=writable))
        clpstat = None
        if req.clpstat:
            run = self._exec("clpstat", what="clpstat")
            if run.rc == 0:
                clpstat = self._text(run.stdout, "clpstat")
        # cmd.exe has no caption; the platforms know the product name of each kernel version
        from clpbackup.platforms import product_for_kernel

        product = product_for_kernel(version)
        return NodeFacts(
            hostname=hostname,
            os_version=version,
            os_caption=f"Microsoft {product}" if product else ver.strip(),
            ps_version=None,
            oem_codepage=int(cp.group(1)),
            volumes=tuple(volumes),
            schedule_start_mode=_START_TYPES.get(start.group(1)) if start else None,
            schedule_state=_STATES.get(state.group(1)) if state else None,
            wsb_installed=wsb,
            scripts_dir_exists=scripts,
            clpstat=clpstat,
        )

    # -- files ------------------------------------------------------------------------------------

    def _read(self, path: str) -> FileState:
        """A file's bytes through ``certutil -encode`` + ``type`` (``sha256`` None when missing)."""
        quoted = _path(path)
        if not self._yes(f"if exist {quoted} echo yes"):
            return FileState(path=path, sha256=None)
        b64 = f'"%TEMP%\\clpbackup-{self._tag}.b64"'
        enc = self._exec(f"certutil -f -encode {quoted} {b64}", what="certutil -encode")
        if enc.rc != 0:
            self._exec(f"del /q {b64}", what="del")
            reason = self._text(enc.stdout + enc.stderr, "certutil").strip().splitlines()
            return FileState(path=path, sha256=None, error=" ".join(reason)[-300:] or f"certutil rc {enc.rc}")
        typed = self._exec(f"type {b64}", what="type")
        self._exec(f"del /q {b64}", what="del")
        lines = [ln.strip() for ln in typed.stdout.decode("ascii", "replace").splitlines()]
        body = "".join(ln for ln in lines if ln and not ln.startswith("-----"))
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _parse_error(
                self.node, "certutil -encode", body[:200], "the encoded file is not base64"
            ) from None
        return FileState(path=path, sha256=hashlib.sha256(data).hexdigest(), content=data)

    def _write(self, path: str, data: bytes) -> FileWriteResult:
        digest = hashlib.sha256(data).hexdigest()
        current = self._read(path)
        if current.sha256 == digest:
            return FileWriteResult(path=path, changed=False, sha256=digest)
        target = _path(path)
        temp = _path(path + ".clpbackup-tmp")
        b64 = _path(path + ".clpbackup-b64")
        folder = _folder(path)
        if folder and not re.match(r"^[A-Za-z]:$", folder):
            self._exec(f"if not exist {_path(folder + chr(92))} mkdir {_path(folder)}", what="mkdir")
        if data:
            text = base64.b64encode(data).decode("ascii")
            for i in range(0, len(text), CHUNK):
                redirect = ">" if i == 0 else ">>"
                self._exec(f"{redirect}{b64} echo {text[i : i + CHUNK]}", what="echo")
            dec = self._exec(f"certutil -f -decode {b64} {temp}", what="certutil -decode")
            self._exec(f"del /q {b64}", what="del")
            if dec.rc != 0:
                reason = self._text(dec.stdout + dec.stderr, "certutil").strip()
                return self._failed(path, temp, f"certutil -decode failed: {reason[-300:]}")
        else:
            made = self._exec(f"type nul>{temp}", what="type nul")
            if made.rc != 0:
                return self._failed(path, temp, self._text(made.stderr, "type").strip() or "cannot create")
        # (An empty file cannot be read back: certutil refuses to encode zero bytes.)
        check = self._read(path + ".clpbackup-tmp") if data else None
        if check is not None and check.sha256 != digest:
            return self._failed(path, temp, "the temporary file does not match the SHA-256 of the content")
        moved = self._exec(f"move /y {temp} {target}", what="move")
        if moved.rc != 0:
            reason = self._text(moved.stdout + moved.stderr, "move").strip()
            return self._failed(path, temp, f"move failed: {reason[-300:]}")
        return FileWriteResult(path=path, changed=True, sha256=digest)

    def _failed(self, path: str, temp: str, reason: str) -> FileWriteResult:
        self._exec(f"if exist {temp} del /q {temp}", what="del")
        return FileWriteResult(path=path, changed=False, sha256="", error=reason)

    def _delete(self, path: str) -> str | None:
        """Delete ``path``; the error text, or None (also when it did not exist)."""
        quoted = _path(path)
        if not self._yes(f"if exist {quoted} echo yes"):
            return None
        run = self._exec(f"del /q {quoted}", what="del")
        if self._yes(f"if exist {quoted} echo yes"):
            return self._text(run.stdout + run.stderr, "del").strip() or "the file is still there"
        return ""

    # -- commands ---------------------------------------------------------------------------------

    def _commands(
        self, specs: Sequence[CommandSpec], *, stop_on_error: bool, timeout: int | None, failed: bool = False
    ) -> list[CommandResult]:
        lines = [cmd_command_line(s) for s in specs]  # refuse bad values before running anything
        out: list[CommandResult] = []
        for spec, line in zip(specs, lines, strict=True):
            argv = argv_of(spec)
            if stop_on_error and failed:
                out.append(CommandResult(argv=argv, rc=None, stdout="", stderr="", ran=False))
                continue
            run = self._exec(line, timeout=timeout, what=argv[0])
            result = CommandResult(
                argv=argv,
                rc=run.rc,
                stdout=self._text(run.stdout, argv[0]),
                stderr=self._text(run.stderr, argv[0]),
            )
            failed = failed or result.rc != 0
            out.append(result)
        return out

    # -- the operations ---------------------------------------------------------------------------

    def _timed(self, what: str, fn: Callable[[], InspectResult | ApplyResult]) -> InspectResult | ApplyResult:
        started = self._clock()
        self._deadline_at = started + self.connection.deadline
        try:
            return fn()
        finally:
            self._deadline_at = None
            log.info("%s: WinRS %s completed in %.2f s", self.node, what, self._clock() - started)

    def inspect(self, request: InspectRequest) -> InspectResult:
        """Facts, files and commands through cmd tools; retried on transient failures."""
        for spec in request.commands:
            cmd_command_line(spec)  # QuotingError before anything is sent

        def attempt() -> InspectResult:
            def body() -> InspectResult:
                facts = self._facts(request) if request.want_facts else None
                files: dict[str, FileState] = {}
                for p in [*request.hash_paths, *request.read_paths]:
                    if p not in files:
                        files[p] = self._read(p)
                record = request.record_path
                if record and record not in files:
                    files[record] = self._read(record)
                for p, read in _recorded_paths(files[record].content if record else None):
                    if p.lower() not in {k.lower() for k in files}:
                        f = self._read(p)
                        files[p] = f if read else FileState(path=f.path, sha256=f.sha256, error=f.error)
                for p in request.hash_paths:
                    if p not in request.read_paths:
                        f = files[p]
                        files[p] = FileState(path=f.path, sha256=f.sha256, error=f.error)
                commands = self._commands(
                    request.commands, stop_on_error=False, timeout=request.command_timeout
                )
                return InspectResult(facts=facts, files=files, commands=commands)

            result = self._timed("inspect", body)
            assert isinstance(result, InspectResult)
            return result

        return self.retry.call(attempt, what="inspect", node=self.node, on_retry=self._discard)

    def apply(self, request: ApplyRequest) -> ApplyResult:
        """Writes, deletions, then commands. Never retried: on failure, re-inspect and diff."""
        for spec in request.commands:
            cmd_command_line(spec)
        for w in request.writes:
            _path(w.path + ".clpbackup-tmp")
        self._ensure_shell()

        def body() -> ApplyResult:
            stale = self._stale_guards(request)
            if stale:
                return ApplyResult(
                    commands=[
                        CommandResult(argv=argv_of(c), rc=None, stdout="", stderr="", ran=False)
                        for c in request.commands
                    ],
                    stale=tuple(stale),
                )
            files = [self._write(w.path, w.content) for w in request.writes]
            deleted: list[str] = []
            errors: dict[str, str] = {}
            for p in request.deletes:
                outcome = self._delete(p)
                if outcome == "":
                    deleted.append(p)
                elif outcome is not None:
                    errors[p] = outcome
            failed = any(f.error for f in files) or bool(errors)
            commands = self._commands(
                request.commands,
                stop_on_error=request.stop_on_error,
                timeout=request.command_timeout,
                failed=failed,
            )
            record_sha = record_error = None
            if request.record is not None:
                failed_deletes = [i for i, p in enumerate(request.deletes) if p in errors]
                data = record_text(request.record, files, commands, failed_deletes)
                written = self._write(request.record.path, data)
                record_sha, record_error = written.sha256 or None, written.error
            return ApplyResult(
                files=files,
                deleted=deleted,
                commands=commands,
                delete_errors=errors,
                record_sha256=record_sha,
                record_error=record_error,
            )

        result = self._timed("apply", body)
        assert isinstance(result, ApplyResult)
        return result

    def _stale_guards(self, request: ApplyRequest) -> list[str]:
        """The guards of ``request`` that no longer hold (LOCK-1; see the module docstring: this
        transport re-checks them but takes no node lock)."""
        stale: list[str] = []
        for g in request.guards:
            if g.command is None and g.path is not None:
                if self._read(g.path).sha256 != (g.sha256.lower() if g.sha256 else None):
                    stale.append(g.path)
            elif g.command is not None:
                run = self._commands([g.command], stop_on_error=False, timeout=request.command_timeout)[0]
                changed = re.search(g.refuse, run.stdout) is not None if g.refuse else run.stdout != g.stdout
                if run.rc != 0 or changed:
                    stale.append(" ".join(run.argv))
        return stale

    def close(self) -> None:
        """Delete the cmd shell on the node. Safe to call twice."""
        wsman, shell = self._wsman, self._shell
        self._wsman = self._shell = None
        self._secret = None
        if shell is not None:
            try:
                shell.close()
            except Exception as exc:
                log.warning("%s: closing the WinRS shell failed (%s)", self.node, type(exc).__name__)
        if wsman is not None:
            wsman.close()


_AT_ID = re.compile(r"\bID\s*=\s*(\d+)", re.IGNORECASE)


def _recorded_paths(data: bytes | None) -> list[tuple[str, bool]]:
    """``(path, read)`` of each file (hashed) and canary (read) the record ``data`` lists, as
    ``inspect.ps1`` finds them (OWN-1); a damaged record gives none (the client refuses it)."""
    try:
        rec = parse_record(data)
    except ParseError:
        return []
    return [(f.path, False) for f in rec.files] + [(c.path, True) for c in rec.canaries]


def record_text(
    record: RecordWrite,
    files: Sequence[FileWriteResult],
    commands: Sequence[CommandResult],
    failed_deletes: Sequence[int] = (),
) -> bytes:
    """The record ``apply`` writes (OWN-1): the lines of ``record`` kept as ``apply.ps1`` keeps them
    (``ran:i``, ``notran:i``, ``wrote:i``, ``notdeleted:i`` — kept when deleting ``deletes[i]``
    failed, one of ``failed_deletes``; the AT id that at.exe printed put into its line)."""
    kept: list[str] = []
    for line, when in zip(record.lines, record.when, strict=True):
        if when:
            kind, _, number = when.partition(":")
            k = int(number)
            if kind in ("wrote", "notwrote"):
                wrote = k < len(files) and files[k].error is None
                if wrote != (kind == "wrote"):
                    continue
            elif kind == "notdeleted":
                if k not in failed_deletes:
                    continue
            else:
                ok = k < len(commands) and commands[k].ran and commands[k].rc == 0
                if kind == "ran":
                    if not ok:
                        continue
                    if AT_ID_TOKEN in line:
                        found = _AT_ID.search(commands[k].stdout)
                        if found is None:
                            continue
                        line = line.replace(AT_ID_TOKEN, found.group(1))
                elif ok:
                    continue
        kept.append(line)
    return "".join(x + "\r\n" for x in kept).encode("ascii")


def _parse_error(node: str, tool: str, text: str, reason: str) -> ClpBackupError:
    from clpbackup.errors import ParseError

    return ParseError(tool, text, reason, node=node)
