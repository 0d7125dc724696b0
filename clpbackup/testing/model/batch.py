"""A batch-file interpreter for the subset of cmd.exe that clpbackup's batch files use.

The subset (``docs/design.md``, "The batch-file subset") plus what CLUSTERPRO start scripts commonly
hold (``IF "%CLP_EVENT%" == "START" GOTO NORMAL``, ``cd "%CLP_SCRIPT_PATH%"``, ``exit %ret%``):

* ``%VAR%`` expansion (undefined → empty, as in a batch file), ``%VAR:~n,m%`` and
  ``%VAR:[*]str=repl%`` (``set /?``), ``%ERRORLEVEL%``, ``%CD%``, ``%DATE%``, ``%TIME%``,
  ``%RANDOM%``, ``%0``–``%9``, ``%*``, ``%~dp0``/``%~f0``/``%~nx0``/``%~1``, and ``%%`` → ``%``;
* labels, ``goto`` (``goto :eof``), ``call "<file>"``, ``call :label args`` (a subroutine:
  :func:`run_subroutine`), ``exit /b N``, ``setlocal``/``endlocal``, ``@echo off``, ``rem``; every
  statement then goes through :func:`clpbackup.testing.model.cmd.run_statement`.

A batch file is read in the node's OEM code page, like cmd.exe does. A statement the model does not
cover makes the node record "not simulated" and the statement fail.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from clpbackup.testing.model.base import BatchExit, BatchFrame, CmdSyntaxError, Goto, Proc, ToolResult, lines
from clpbackup.testing.model.cmd import run_statement
from clpbackup.testing.model.fs import FsError

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.testing.model.node import SimulatedWindows

CMD_LINE_MAX = 8191  # cmd.exe reads at most this many characters of a line (KB 830473)
MAX_STEPS = 100_000  # a runaway "goto" loop stops here (real cmd would spin forever)


def split_batch_args(tail: str) -> list[str]:
    """Batch parameters as cmd.exe splits them: blanks, ``,``, ``;``, ``=`` separate; quotes kept."""
    args: list[str] = []
    i, n = 0, len(tail)
    while i < n:
        while i < n and tail[i] in " \t,;=":
            i += 1
        if i >= n:
            break
        start = i
        quoted = False
        while i < n and (quoted or tail[i] not in " \t,;="):
            if tail[i] == '"':
                quoted = not quoted
            i += 1
        args.append(tail[start:i])
    return args


def dynamic_var(node: SimulatedWindows, proc: Proc, name: str) -> str | None:
    """Value of ``%name%``: the environment first, then cmd.exe's dynamic variables."""
    value = proc.env.get(name)
    if value is not None:
        return value
    up = name.upper()
    if up == "ERRORLEVEL":
        return str(proc.errorlevel)
    if up == "CD":
        return proc.cwd.rstrip("\\") if len(proc.cwd) > 3 else proc.cwd
    if up == "RANDOM":
        return str(node.random.randint(0, 32767))
    now = node.time.local()
    if up == "DATE":
        if node.texts.ja:
            return f"{now.year:04d}/{now.month:02d}/{now.day:02d}"
        day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[now.weekday()]
        return f"{day} {now.month:02d}/{now.day:02d}/{now.year}"
    if up == "TIME":
        return f"{now.hour:2d}:{now.minute:02d}:{now.second:02d}.{now.microsecond // 10000:02d}"
    return None


_TILDE = re.compile(r"%~([a-zA-Z]*)([0-9])")
_SUBSTRING = re.compile(r"~(-?[0-9]+)(?:,(-?[0-9]+))?%")
_REPLACE = re.compile(r"(\*?)([^=%]+)=([^%]*)%")


def expand(
    node: SimulatedWindows,
    proc: Proc,
    text: str,
    args: list[str] | None,
    *,
    frame: BatchFrame | None = None,
) -> str:
    """%-expansion of one line. ``args`` is the batch's ``%0``… (``None``: a command line, where an
    undefined ``%VAR%`` stays as typed and ``%%`` is not collapsed).

    ``%VAR:~n,m%`` and ``%VAR:str=repl%`` follow ``set /?``; an undefined VAR before the colon
    removes ``%VAR:`` in a batch file and the scan goes on after it (docs/windows-facts.md)."""
    out: list[str] = []
    i, n = 0, len(text)
    in_batch = args is not None
    while i < n:
        c = text[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        if in_batch and i + 1 < n and text[i + 1] == "%":
            out.append("%")
            i += 2
            continue
        if in_batch and args is not None:
            m = _TILDE.match(text, i)
            if m:
                out.append(_tilde(node, proc, m.group(1).lower(), args, int(m.group(2)), frame))
                i = m.end()
                continue
            if i + 1 < n and text[i + 1].isdigit():
                k = int(text[i + 1])
                out.append(args[k] if k < len(args) else "")
                i += 2
                continue
            if i + 1 < n and text[i + 1] == "*":
                star = frame.star if frame is not None and frame.star is not None else None
                out.append(star if star is not None else " ".join(args[1:]))
                i += 2
                continue
        # the name runs to the next % or :  ("%VAR:%" keeps the colon in the name)
        j = i + 1
        while j < n and text[j] not in "%:":
            j += 1
        if j < n - 1 and text[j] == ":" and text[j + 1] == "%":
            j += 1
        if j >= n:
            if not in_batch:
                out.append(c)
            i += 1
            continue
        name = text[i + 1 : j]
        if text[j] == ":":
            used = _colon_form(node, proc, name, text, j, in_batch, out)
            if used is None:
                if not in_batch:
                    out.append("%")
                i += 1
            else:
                i = used
            continue
        if not name or (" " in name and not in_batch):
            out.append("%")
            i += 1
            continue
        value = dynamic_var(node, proc, name)
        if value is None:
            if in_batch:
                value = ""
            else:
                out.append("%")
                i += 1
                continue
        out.append(value)
        i = j + 1
    return "".join(out)


def _colon_form(
    node: SimulatedWindows, proc: Proc, name: str, text: str, colon: int, in_batch: bool, out: list[str]
) -> int | None:
    """``%name:~n,m%`` or ``%name:[*]str=repl%`` starting at ``text[colon]`` (the colon): appends the
    result to ``out`` and returns where the scan goes on, or ``None`` when only the ``%`` is consumed
    (the form does not apply: a command line keeps that ``%``, a batch file drops it)."""
    value = dynamic_var(node, proc, name) if name else None
    if value is None:
        # set /? documents the forms for a defined variable only; for an undefined one cmd.exe drops
        # "%VAR:" in a batch file and goes on scanning after it (command line: left as typed)
        return colon + 1 if in_batch else None
    rest = text[colon + 1 :]
    if rest.startswith("~"):
        m = _SUBSTRING.match(rest)
        if m is None:
            node.record_not_simulated(f"a malformed variable substring %{name}:{rest}")
            return None
        out.append(_substring(value, int(m.group(1)), None if m.group(2) is None else int(m.group(2))))
        return colon + 1 + m.end()
    m = _REPLACE.match(rest)
    if m is None:
        node.record_not_simulated(f"a malformed variable substitution %{name}:{rest}")
        return None
    star, search, repl = m.group(1), m.group(2), m.group(3)
    found = re.search(re.escape(search), value, re.IGNORECASE)
    if star:
        out.append(value if found is None else repl + value[found.end() :])
    else:
        out.append(re.sub(re.escape(search), lambda _m: repl, value, flags=re.IGNORECASE))
    return colon + 1 + m.end()


def _substring(value: str, offset: int, length: int | None) -> str:
    """``%VAR:~offset,length%`` (set /?: a negative offset or length counts from the end)."""
    size = len(value)
    start = max(0, size + offset) if offset < 0 else min(offset, size)
    if length is None:
        return value[start:]
    end = size + length if length < 0 else start + length
    return value[start:end] if end > start else ""


def _tilde(
    node: SimulatedWindows, proc: Proc, mods: str, args: list[str], k: int, frame: BatchFrame | None
) -> str:
    raw = args[k] if k < len(args) else ""
    value = raw.strip('"')
    if not mods:
        return value
    if k == 0 and frame is not None and frame.subroutine:
        node.record_not_simulated(f"%~{mods}0 inside a call :label subroutine")
        return value
    try:
        full = node.fs.full_path(value, proc.cwd) if value else ""
    except Exception:  # a malformed path expands as written
        full = value
    if mods == "f":
        return full
    if mods == "dp":
        return full.rpartition("\\")[0] + "\\"
    if mods == "nx":
        return full.rpartition("\\")[2]
    if mods == "n":
        return full.rpartition("\\")[2].rsplit(".", 1)[0]
    if mods == "d":
        return full[:2]
    if mods == "p":
        return full[2:].rpartition("\\")[0] + "\\"
    node.record_not_simulated(f"parameter modifier %~{mods}{k}")
    return value


def run_batch(node: SimulatedWindows, proc: Proc, path: str, args: list[str]) -> ToolResult:
    """Run a batch file in ``proc`` (its environment changes stay, as with ``call``).

    ``args`` are the parameters after the file name (``%1``…). ``exit /b N`` returns ``N``;
    ``exit N`` propagates as :class:`BatchExit` (whole) to the cmd.exe that runs the file.
    """
    node.fs.read_bytes(path, proc.cwd)  # a missing file fails here, as the caller expects
    full = node.fs.full_path(path, proc.cwd)
    node.note_batch(full)
    return _execute(node, proc, BatchFrame(full, [path, *args]), 0)


def run_subroutine(
    node: SimulatedWindows, proc: Proc, frame: BatchFrame, label: str, tail: str
) -> ToolResult:
    """``call :label args`` (``call /?``): a new batch context of the same file that starts after the
    label, with its own ``%0`` (the label as typed), ``%1``… and ``%*``; it returns at ``goto :eof``,
    ``exit /b [N]`` (ERRORLEVEL N) or the end of the file. Variables are shared with the caller.
    The label is looked for in the file as it is on disk now."""
    data = _on_disk(node, frame.path)
    start = None if data is None else _labels(data).get(label.lower())
    if start is None:
        return node.not_simulated_result(f"call :{label} of a label the batch file does not hold")
    sub = BatchFrame(
        frame.path,
        [":" + label, *split_batch_args(tail)],
        star=tail.lstrip(" \t,;="),
        subroutine=True,
    )
    return _execute(node, proc, sub, start)


def _on_disk(node: SimulatedWindows, path: str) -> bytes | None:
    """The batch file's bytes as they are now (``None``: it is gone)."""
    try:
        return node.fs.read_bytes(path)
    except FsError:
        return None


def _line_end(data: bytes, offset: int) -> int:
    """The offset of the line after the one that starts at ``offset``: a line runs through the first
    LF (dbenham's phase 0), or to the end of the file."""
    nl = data.find(b"\n", offset)
    return len(data) if nl < 0 else nl + 1


def _line_at(node: SimulatedWindows, data: bytes, offset: int) -> tuple[str, int]:
    """The line that starts at byte ``offset`` (its CRs removed: dbenham's phase 1.5) in the node's
    OEM code page, and the offset of the next line."""
    end = _line_end(data, offset)
    return node.decode(data[offset:end].rstrip(b"\n")).replace("\r", ""), end


def _labels(data: bytes) -> dict[str, int]:
    """Lower-case label -> byte offset of the line after it (the first one from the top wins)."""
    labels: dict[str, int] = {}
    offset = 0
    while offset < len(data):
        end = _line_end(data, offset)
        s = data[offset:end].replace(b"\r", b"").strip()
        if s.startswith(b":") and not s.startswith(b"::"):
            words = s[1:].split()
            # labels are ASCII in every file the model runs; a byte label is compared as Latin-1
            labels.setdefault(words[0].decode("latin-1").lower() if words else "", end)
        offset = end
    return labels


def _execute(node: SimulatedWindows, proc: Proc, frame: BatchFrame, offset: int) -> ToolResult:
    """Run ``frame``'s file from byte ``offset`` in ``proc`` until the context ends.

    Before each line the file is read again as it is on disk and the line taken at the offset where
    the previous one ended: a file rewritten under a running cmd.exe goes on at that offset in the
    new bytes (half a line, lines skipped or run twice), and a file deleted meanwhile ends the batch
    with "The batch file cannot be found." (docs/windows-facts.md)."""
    argv, full = frame.argv, frame.path
    stack_depth = len(proc.env_stack)
    outer_frame, proc.batch = proc.batch, frame
    out: list[str] = []
    err: list[str] = []
    steps = 0
    try:
        while True:
            data = _on_disk(node, full)
            if data is None:
                # cmd.exe says so on stderr and ends the batch context; ERRORLEVEL is left as it was
                # (unverified: no public source gives the exit code)
                err.append(lines(node.texts.t("cmd.batch_missing")))
                break
            if offset >= len(data):
                break
            steps += 1
            if steps > MAX_STEPS:
                node.record_not_simulated(f"batch file {full} ran more than {MAX_STEPS} statements (a loop?)")
                err.append(lines("not simulated: endless loop in " + full))
                return ToolResult(1, "".join(out), "".join(err))
            raw, offset = _line_at(node, data, offset)
            stripped = raw.strip()
            if not stripped or (stripped.startswith(":") and not stripped.startswith("::")):
                continue
            if stripped.startswith("::"):
                continue
            if len(raw) > CMD_LINE_MAX:
                # cmd.exe says so and ends the batch file: the rest (the backup) never runs.
                err.append(lines(node.texts.t("cmd.line_too_long")))
                raise BatchExit(1, whole=True, out="".join(out), err="".join(err))
            expanded = expand(node, proc, raw, argv, frame=frame)
            if proc.echo and not stripped.startswith("@"):
                out.append(
                    lines(
                        "",
                        f"{proc.cwd.rstrip(chr(92)) if len(proc.cwd) > 3 else proc.cwd}>{expanded.strip()}",
                    )
                )
            try:
                result = run_statement(node, proc, expanded, in_batch=True)
            except Goto as g:
                label = g.label.lower()
                if label == "eof":
                    break
                now = _on_disk(node, full)
                labels = _labels(now) if now is not None else {}
                if label not in labels:
                    err.append(lines(node.texts.t("cmd.no_label", label=g.label)))
                    proc.errorlevel = 1
                    break
                offset = labels[label]
                continue
            except CmdSyntaxError as exc:
                err.append(lines(exc.message))
                raise BatchExit(255, whole=True, out="".join(out), err="".join(err)) from None
            out.append(result.out)
            err.append(result.err)
    except BatchExit as ex:
        if ex.whole:
            ex.out = "".join(out) + ex.out
            ex.err = "".join(err) + ex.err
            raise
        out.append(ex.out)
        err.append(ex.err)
        proc.errorlevel = ex.code
    finally:
        proc.batch = outer_frame
        while len(proc.env_stack) > stack_depth:
            proc.env, proc.cwd = proc.env_stack.pop()
    return ToolResult(proc.errorlevel, "".join(out), "".join(err))
