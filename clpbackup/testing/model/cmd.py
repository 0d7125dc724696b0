"""Command lines as Windows parses them, and cmd.exe's statements.

* :func:`split_program` / :func:`parse_args` follow ``CommandLineToArgvW`` and the MSVCRT (2008+)
  rules: the program name ends at the first blank or closing quote; in the arguments ``2n``
  backslashes before a quote give ``n`` backslashes and toggle quoting, ``2n+1`` give ``n`` and a
  literal quote, ``""`` inside quotes is a literal quote.
* :func:`run_statement` executes one cmd.exe statement: ``@``, ``rem``, ``if``, redirections
  (``>``, ``>>``, ``2>``, ``2>&1``, ``< nul``), ``^`` escapes, the built-in commands clpbackup's
  batch files and operators use (``echo``, ``set``, ``setlocal``, ``endlocal``, ``goto``, ``call``
  (``call :label`` too),
  ``start``, ``exit``, ``cd``, ``type``, ``del``, ``mkdir``/``md``, ``move``, ``ver``), and external
  programs by name (``wbadmin``, ``C:\\Windows\\System32\\schtasks.exe`` …).
* ``for %X in (names)`` and ``for /f`` over a command, a file or a string (:func:`_for_f`).
* Anything outside that (pipes, ``&``, ``for /d /r /l``, ``set /a``, parenthesised blocks …) is reported as
  **not simulated**: the node records it (``SimulatedWindows.not_simulated``) and the statement
  fails, never a silent success.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clpbackup.testing.model.base import (
    BatchExit,
    CmdSyntaxError,
    Goto,
    Proc,
    StdoutFile,
    ToolResult,
    lines,
)
from clpbackup.testing.model.fs import ERROR_FILE_NOT_FOUND, FsError

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.testing.model.node import SimulatedWindows

NOT_RECOGNIZED_RC = 9009

# ---------------------------------------------------------------------------------------------
# CommandLineToArgvW


def split_program(command_line: str) -> tuple[str, str]:
    """``(program, rest)``: the program name as CreateProcess reads it, and the argument text."""
    s = command_line.lstrip(" \t")
    if s.startswith('"'):
        end = s.find('"', 1)
        if end < 0:
            return s[1:], ""
        prog = s[1:end]
        rest = s[end + 1 :]
    else:
        m = re.match(r"[^ \t]*", s)
        prog = m.group(0) if m else ""
        rest = s[len(prog) :]
    return prog, rest.lstrip(" \t")


def parse_args(text: str) -> list[str]:
    """Arguments of a command line after the program name (MSVCRT 2008+ rules)."""
    args: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            return args
        cur: list[str] = []
        quoted = False
        while i < n:
            c = text[i]
            if c == "\\":
                j = i
                while j < n and text[j] == "\\":
                    j += 1
                count = j - i
                if j < n and text[j] == '"':
                    cur.append("\\" * (count // 2))
                    if count % 2:
                        cur.append('"')
                        i = j + 1
                    else:
                        i = j
                        # the quote is handled as a quote below
                        c = '"'
                        if quoted and j + 1 < n and text[j + 1] == '"':
                            cur.append('"')
                            i = j + 2
                        else:
                            quoted = not quoted
                            i = j + 1
                else:
                    cur.append("\\" * count)
                    i = j
                continue
            if c == '"':
                if quoted and i + 1 < n and text[i + 1] == '"':
                    cur.append('"')
                    i += 2
                    continue
                quoted = not quoted
                i += 1
                continue
            if c in " \t" and not quoted:
                break
            cur.append(c)
            i += 1
        args.append("".join(cur))


def split_argv(command_line: str) -> list[str]:
    """The whole argv of a command line (program first)."""
    prog, rest = split_program(command_line)
    return [prog, *parse_args(rest)]


# ---------------------------------------------------------------------------------------------
# cmd.exe statement parsing


@dataclass
class Redirect:
    """One redirection: ``handle`` 1 or 2 (0 for input), ``target`` a path, ``nul`` or ``&1``."""

    handle: int
    target: str
    append: bool = False


class NotSimulatedStatement(Exception):
    """A statement uses cmd.exe syntax the model does not cover."""


def parse_redirections(text: str) -> tuple[str, list[Redirect]]:
    """Split off redirections; drop ``^`` escapes outside quotes. Pipes and ``&`` are refused."""
    out: list[str] = []
    redirs: list[Redirect] = []
    i, n = 0, len(text)
    quoted = False
    while i < n:
        c = text[i]
        if quoted:
            out.append(c)
            if c == '"':
                quoted = False
            i += 1
            continue
        if c == '"':
            quoted = True
            out.append(c)
            i += 1
            continue
        if c == "^":
            if i + 1 < n:
                out.append(text[i + 1])
            i += 2
            continue
        if c in "|&":
            raise NotSimulatedStatement(f"'{c}' (pipes and command chaining)")
        if c in "<>":
            handle = 0 if c == "<" else 1
            if c == ">" and out and out[-1] in "12" and (len(out) == 1 or out[-2] in " \t"):
                handle = int(out.pop())
            append = False
            i += 1
            if c == ">" and i < n and text[i] == ">":
                append = True
                i += 1
            if i < n and text[i] == "&":
                m = re.match(r"&([0-2])", text[i:])
                if not m:
                    raise NotSimulatedStatement("a redirection to a handle other than &0, &1, &2")
                redirs.append(Redirect(handle, "&" + m.group(1), append))
                i += 2
                continue
            while i < n and text[i] in " \t":
                i += 1
            target, i = _read_token(text, i)
            if not target:
                raise NotSimulatedStatement("a redirection without a target")
            redirs.append(Redirect(handle, target.strip('"'), append))
            continue
        out.append(c)
        i += 1
    return "".join(out), redirs


def _read_token(text: str, i: int) -> tuple[str, int]:
    """A token starting at ``i`` (quoted part kept), up to a blank or redirection char."""
    start = i
    quoted = False
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            quoted = not quoted
        elif not quoted and c in " \t<>|&":
            break
        i += 1
    return text[start:i], i


def first_token(text: str) -> tuple[str, str]:
    """The first token of a statement (quotes kept) and the rest (the separator kept)."""
    s = text.lstrip(" \t")
    m = re.match(r'(?:"[^"]*"?|[^ \t"=,;(])+', s)
    # cmd.exe ends a command name at blanks and at , ; = ( as well; echo. / echo( are special.
    if not m:
        return "", s
    tok = m.group(0)
    return tok, s[len(tok) :]


# ---------------------------------------------------------------------------------------------
# statements


BUILTINS = {
    "echo",
    "echo.",
    "rem",
    "set",
    "setlocal",
    "endlocal",
    "goto",
    "call",
    "start",
    "exit",
    "cd",
    "chdir",
    "type",
    "del",
    "erase",
    "mkdir",
    "md",
    "move",
    "ver",
    "if",
    "cls",
    "title",
    "pause",
}


def run_statement(node: SimulatedWindows, proc: Proc, text: str, *, in_batch: bool = False) -> ToolResult:
    """Execute one cmd.exe statement (already %-expanded when it comes from a batch file)."""
    s = text.lstrip(" \t@").rstrip("\r\n")
    while s.startswith("@"):
        s = s[1:].lstrip(" \t")
    if not s.strip():
        return ToolResult(proc.errorlevel)
    if s.startswith(":"):
        return ToolResult(proc.errorlevel)
    word, rest = first_token(s)
    low = word.lower()
    if low == "rem" or low.startswith("rem "):
        return ToolResult(proc.errorlevel)
    if low == "if":
        return _if(node, proc, rest, in_batch=in_batch)
    if low == "for":
        return _for(node, proc, rest, in_batch=in_batch)
    if low.startswith("(") or s.lstrip().startswith("("):
        return node.not_simulated_result("a parenthesised block: " + s.strip())
    if low in (
        "pushd",
        "popd",
        "shift",
        "color",
        "prompt",
        "path",
        "copy",
        "xcopy",
        "dir",
        "rd",
        "rmdir",
        "ren",
        "rename",
        "choice",
        "timeout",
        "find",
        "findstr",
        "more",
        "sort",
        "break",
        "verify",
        "vol",
        "date",
        "time",
        "assoc",
        "ftype",
        "mklink",
    ):
        if low in ("timeout", "find", "findstr", "more", "sort", "choice", "xcopy"):
            pass  # external programs the model does not have: they fall through to "not recognized"
        else:
            return node.not_simulated_result(f"the cmd.exe command '{word}': {s.strip()}")
    try:
        command, redirs = parse_redirections(s)
    except NotSimulatedStatement as exc:
        return node.not_simulated_result(f"cmd.exe syntax {exc}: {s.strip()}")
    # Where the output goes must exist before the command runs (cmd opens the files first).
    for r in redirs:
        if r.handle in (1, 2) and not r.target.startswith("&") and r.target.lower() not in ("nul", "con"):
            try:
                node.fs.resolve(r.target, proc.cwd)
                parent_ok = _parent_exists(node, proc, r.target)
            except FsError as exc:
                return ToolResult(1, err=lines(node.texts.t(f"win.{_known(exc.winerror)}")))
            if not parent_ok:
                return ToolResult(1, err=lines(node.texts.t("win.3")))
        if r.handle == 0 and r.target.lower() != "nul" and not node.fs.is_file(r.target, proc.cwd):
            return ToolResult(1, err=lines(node.texts.t("win.2")))
    stdout = next((r for r in reversed(redirs) if r.handle == 1), None)
    streamed = None
    to_file = stdout is not None and stdout.target.lower() not in ("nul", "con")
    if stdout is not None and to_file and not stdout.target.startswith("&"):
        streamed = StdoutFile(stdout.target, proc.cwd, stdout.append)
    outer, proc.stdout_file = proc.stdout_file, streamed or proc.stdout_file
    try:
        result = _dispatch(node, proc, command, in_batch=in_batch)
    finally:
        proc.stdout_file = outer
    if streamed is not None and streamed.base is not None:
        # what the tool wrote while it ran is replaced by its whole output, as one write
        node.fs.write_bytes(streamed.path, streamed.base, streamed.cwd, mtime=node.time.utc())
    return _apply_redirections(node, proc, result, redirs)


def _known(code: int) -> int:
    return code if code in (2, 3, 5, 15, 32, 53, 80, 123, 145, 183) else 3


def _parent_exists(node: SimulatedWindows, proc: Proc, path: str) -> bool:
    r = node.fs.resolve(path, proc.cwd)
    return r.parent_key in r.store.dirs


def _apply_redirections(
    node: SimulatedWindows, proc: Proc, result: ToolResult, redirs: list[Redirect]
) -> ToolResult:
    out, err = result.out, result.err
    dest: dict[int, str | None] = {1: None, 2: None}  # None = the console (our caller)
    for r in redirs:
        if r.handle == 0:
            continue
        if r.target.startswith("&"):
            dest[r.handle] = "&" + r.target[1:]
        else:
            dest[r.handle] = r.target
    appends = {r.handle: r.append for r in redirs if r.handle in (1, 2)}
    to_console_out, to_console_err = "", ""
    files: dict[str, list[str]] = {}
    order: list[str] = []

    def send(handle: int, text: str) -> None:
        nonlocal to_console_out, to_console_err
        target = dest[handle]
        if target == "&1" and handle == 2:
            target = dest[1]
            if target is None:
                to_console_out += text
                return
        elif target == "&2" and handle == 1:
            target = dest[2]
            if target is None:
                to_console_err += text
                return
        if target is None:
            if handle == 1:
                to_console_out += text
            else:
                to_console_err += text
            return
        if target.lower() == "nul":
            return
        key = target.lower()
        if key not in files:
            files[key] = []
            order.append(target)
        files[key].append(text)

    send(1, out)
    send(2, err)
    for target in order:
        handle_append = any(
            appends.get(h, False) for h in (1, 2) if dest[h] is not None and dest[h] == target
        )
        data = node.encode("".join(files[target.lower()]))
        try:
            node.fs.write_bytes(
                target,
                data,
                proc.cwd,
                append=handle_append and node.fs.is_file(target, proc.cwd),
                mtime=node.time.utc(),
            )
        except FsError as exc:
            return ToolResult(
                1, to_console_out, to_console_err + lines(node.texts.t(f"win.{_known(exc.winerror)}"))
            )
    return ToolResult(result.rc, to_console_out, to_console_err)


def _dispatch(node: SimulatedWindows, proc: Proc, command: str, *, in_batch: bool) -> ToolResult:
    word, rest = first_token(command)
    low = word.lower()
    t = node.texts
    if low in ("echo", "echo.") or low.startswith("echo."):
        if low != "echo":
            return ToolResult(proc.errorlevel, lines(word[5:] + rest))
        text = rest[1:] if rest[:1] in (" ", "\t") else rest
        if not text.strip():
            return ToolResult(proc.errorlevel, lines(t.t("cmd.echo_on" if proc.echo else "cmd.echo_off")))
        if text.strip().lower() in ("on", "off"):
            proc.echo = text.strip().lower() == "on"
            return ToolResult(proc.errorlevel)
        return ToolResult(proc.errorlevel, lines(text))
    if low in ("cls", "title"):
        return ToolResult(proc.errorlevel)
    if low == "pause":
        return node.not_simulated_result("pause (waits for a key on a console)")
    if low == "ver":
        return ToolResult(proc.errorlevel, lines("", t.t("cmd.ver", version=node.os_version)))
    if low == "set":
        return _set(node, proc, rest)
    if low in ("setlocal", "endlocal"):
        arg = rest.strip().lower()
        if arg and arg not in ("enableextensions", "disabledelayedexpansion"):
            return node.not_simulated_result(f"{low} {arg}")
        if low == "setlocal":
            proc.env_stack.append((proc.env.copy(), proc.cwd))
        elif proc.env_stack:
            proc.env, proc.cwd = proc.env_stack.pop()
        return ToolResult(proc.errorlevel)
    if low == "goto":
        label = rest.strip().split()[0] if rest.strip() else ""
        if not in_batch:
            return ToolResult(proc.errorlevel)
        raise Goto(label.lstrip(":"))
    if low == "exit":
        return _exit(proc, rest)
    if low == "call":
        return _call(node, proc, rest)
    if low == "start":
        return _start(node, proc, rest)
    if low in ("cd", "chdir"):
        return _cd(node, proc, rest)
    if low == "type":
        return _type(node, proc, rest)
    if low in ("del", "erase"):
        return _del(node, proc, rest)
    if low in ("mkdir", "md"):
        return _mkdir(node, proc, rest)
    if low == "move":
        return _move(node, proc, rest)
    # a drive change ("E:")
    if re.fullmatch(r"[A-Za-z]:", word) and not rest.strip():
        if not node.fs.has_volume(word):
            proc.errorlevel = 1
            return ToolResult(1, err=lines(t.t("win.15")))
        proc.cwd = word.upper() + "\\"
        return ToolResult(proc.errorlevel)
    program, tail = split_program(command)
    if word and split_program(word)[0] != program:
        # cmd.exe ends an unquoted command name at , ; = ( too (cmd /?), not only at a blank:
        # after cmd /c dropped the quotes of "C:\clp;b\job.bat" it looks for C:\clp (Wine agrees).
        program, tail = split_program(word)[0], rest.lstrip(" \t,;=")
    kind, _ = node.resolve_program(proc, program)
    result = node.run_program(proc, program, tail)
    if result is None:
        shown = word.strip('"')
        node.record_not_simulated(f"program '{shown}' (command line: {command.strip()})")
        result = ToolResult(NOT_RECOGNIZED_RC, err=lines(t.t("cmd.not_recognized", name=shown)))
    proc.errorlevel = result.rc
    if kind == "batch" and in_batch:
        # A batch file started without "call" replaces the one that started it.
        raise BatchExit(result.rc, whole=False, out=result.out, err=result.err)
    return result


def _set(node: SimulatedWindows, proc: Proc, rest: str) -> ToolResult:
    arg = rest.strip(" \t")
    low = arg.lower()
    if low.startswith(("/a", "/p")):
        return node.not_simulated_result("set " + arg)
    if not arg:
        return ToolResult(proc.errorlevel, "".join(f"{k}={v}\r\n" for k, v in proc.env.items()))
    if arg.startswith('"') and '"' in arg[1:]:
        arg = arg[1 : arg.rindex('"')]
    if "=" not in arg:
        shown = [f"{k}={v}" for k, v in proc.env.items() if k.upper().startswith(arg.upper())]
        if not shown:
            proc.errorlevel = 1
            return ToolResult(1, err=lines(node.texts.t("cmd.env_not_defined", name=arg)))
        return ToolResult(proc.errorlevel, lines(*shown))
    name, _, value = arg.partition("=")
    if not name:
        return ToolResult(1, err=lines(node.texts.t("cmd.syntax")))
    proc.env.set(name, value)
    return ToolResult(proc.errorlevel)


def _exit(proc: Proc, rest: str) -> ToolResult:
    bits = rest.split()
    whole = True
    if bits and bits[0].lower() == "/b":
        whole = False
        bits = bits[1:]
    code = proc.errorlevel
    if bits:
        try:
            code = int(bits[0])
        except ValueError:
            code = 0
    raise BatchExit(code, whole=whole)


def _call(node: SimulatedWindows, proc: Proc, rest: str) -> ToolResult:
    target = rest.strip()
    if target.startswith(":"):
        return _call_label(node, proc, target)
    program, tail = split_program(target)
    if program.lower().endswith((".bat", ".cmd")):
        if not node.fs.is_file(program, proc.cwd):
            proc.errorlevel = 1
            return ToolResult(1, err=lines(node.texts.t("win.2")))
        from clpbackup.testing.model.batch import run_batch, split_batch_args

        result = run_batch(node, proc, program, split_batch_args(tail))
        proc.errorlevel = result.rc
        return result
    return _dispatch(node, proc, target, in_batch=False)


def _call_label(node: SimulatedWindows, proc: Proc, target: str) -> ToolResult:
    """``call :label args`` inside a batch file (``call /?``)."""
    frame = proc.batch
    if frame is None:
        return node.not_simulated_result("call :label outside a batch file: call " + target)
    m = re.match(r":([^ \t,;=]+)", target)
    if m is None:
        return node.not_simulated_result("call : without a label")
    tail = target[m.end() :]
    if "%" in tail or "^" in tail:
        # CALL expands %... a second time and doubles carets (cmd.exe's CALL phase): not modelled
        return node.not_simulated_result("call :label with % or ^ in its arguments: call " + target)
    from clpbackup.testing.model.batch import run_subroutine

    result = run_subroutine(node, proc, frame, m.group(1), tail)
    proc.errorlevel = result.rc
    return result


def _start(node: SimulatedWindows, proc: Proc, rest: str) -> ToolResult:
    s = rest.strip()
    title = None
    if s.startswith('"'):
        end = s.find('"', 1)
        title = s[1:end] if end > 0 else s[1:]
        s = s[end + 1 :].lstrip() if end > 0 else ""
    wait = False
    while s.startswith("/"):
        opt, _, after = s.partition(" ")
        o = opt.lower()
        if o == "/wait":
            wait = True
        elif o in ("/b", "/min", "/max", "/low", "/normal", "/high", "/belownormal", "/abovenormal", "/i"):
            pass
        else:
            return node.not_simulated_result(f"start option {opt}")
        s = after.lstrip()
    del title
    if not s:
        return node.not_simulated_result("start without a command (opens a new console)")
    child = proc.child()
    if wait:
        program, tail = split_program(s)
        kind, target = node.resolve_program(child, program)
        if kind == "tool":
            # A program: START creates its process with the rest of the line as cmd.exe already
            # parsed it -- no second %-expansion (an internal command or a batch file gets a new
            # cmd.exe, below).
            result = node.run_tool(child, target, tail)
        else:
            result = node.run_cmdline(child, s)
        proc.errorlevel = result.rc
        return ToolResult(result.rc, result.out, result.err)
    node.detach(child, s)
    proc.errorlevel = 0
    return ToolResult(0)


def _path_arg(rest: str) -> list[str]:
    return [a for a in parse_args(rest.strip())]


def _cd(node: SimulatedWindows, proc: Proc, rest: str) -> ToolResult:
    arg = rest.strip()
    switch_drive = False
    if arg.lower().startswith("/d"):
        switch_drive = True
        arg = arg[2:].strip()
    if not arg:
        return ToolResult(proc.errorlevel, lines(proc.cwd.rstrip("\\") if len(proc.cwd) > 3 else proc.cwd))
    path = arg.strip('"')
    if not node.fs.is_dir(path, proc.cwd):
        proc.errorlevel = 1
        return ToolResult(1, err=lines(node.texts.t("win.3")))
    full = node.fs.full_path(path, proc.cwd)
    if switch_drive or full[:2].upper() == proc.cwd[:2].upper() or full.startswith("\\\\"):
        proc.cwd = full if not full.endswith(":") else full + "\\"
    return ToolResult(proc.errorlevel)


def decode_text(node: SimulatedWindows, data: bytes) -> str:
    """File bytes as ``type`` shows them (UTF-16 with BOM, else the OEM code page)."""
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le", errors="replace")
    return node.decode(data)


def _type(node: SimulatedWindows, proc: Proc, rest: str) -> ToolResult:
    names = _path_arg(rest)
    if not names:
        return ToolResult(1, err=lines(node.texts.t("cmd.syntax")))
    out = ""
    for name in names:
        if name.lower() == "nul":
            continue
        try:
            out += decode_text(node, node.fs.read_bytes(name, proc.cwd))
        except FsError as exc:
            proc.errorlevel = 1
            return ToolResult(1, out, lines(node.texts.t(f"win.{_known(exc.winerror)}")))
    return ToolResult(proc.errorlevel, out)


def _del(node: SimulatedWindows, proc: Proc, rest: str) -> ToolResult:
    names = [a for a in _path_arg(rest) if not a.startswith("/")]
    if not names:
        return ToolResult(1, err=lines(node.texts.t("cmd.syntax")))
    err = ""
    for name in names:
        if "*" in name or "?" in name:
            return node.not_simulated_result(f"del with a wildcard: {name}")
        try:
            if not node.fs.delete(name, proc.cwd):
                err += lines(node.texts.t("cmd.del_not_found", path=node.fs.full_path(name, proc.cwd)))
        except FsError as exc:
            err += lines(node.texts.t(f"win.{_known(exc.winerror)}"))
    return ToolResult(proc.errorlevel, err=err)


def _mkdir(node: SimulatedWindows, proc: Proc, rest: str) -> ToolResult:
    names = _path_arg(rest)
    if not names:
        return ToolResult(1, err=lines(node.texts.t("cmd.syntax")))
    err = ""
    rc = proc.errorlevel
    for name in names:
        try:
            if node.fs.exists(name, proc.cwd):
                err += lines(
                    node.texts.t("cmd.mkdir_exists", path=name.rstrip("\\") if len(name) > 3 else name)
                )
                rc = 1
                continue
            node.fs.mkdir(name, proc.cwd)
        except FsError as exc:
            err += lines(node.texts.t(f"win.{_known(exc.winerror)}"))
            rc = 1
    proc.errorlevel = rc
    return ToolResult(rc, err=err)


def _move(node: SimulatedWindows, proc: Proc, rest: str) -> ToolResult:
    args = _path_arg(rest)
    replace = False
    paths: list[str] = []
    for a in args:
        if a.lower() == "/y":
            replace = True
        elif a.lower() == "/-y":
            replace = False
        elif a.startswith("/"):
            return node.not_simulated_result(f"move option {a}")
        else:
            paths.append(a)
    if len(paths) != 2:
        return ToolResult(1, err=lines(node.texts.t("cmd.syntax")))
    src, dst = paths
    if not node.fs.is_file(src, proc.cwd):
        proc.errorlevel = 1
        return ToolResult(1, err=lines(node.texts.t("win.2")))
    if node.fs.is_file(dst, proc.cwd) and not replace:
        # Inside a batch file move asks before it overwrites; nobody answers on a remote node.
        node.record_not_simulated(f"move without /Y onto an existing file would prompt: move {rest.strip()}")
        proc.errorlevel = 1
        return ToolResult(
            1,
            lines(f"Overwrite {node.fs.full_path(dst, proc.cwd)}? (Yes/No/All): "),
            lines(node.texts.t("cmd.moved", n=0).strip()),
        )
    try:
        node.fs.move(src, dst, proc.cwd, replace=True)
    except FsError as exc:
        proc.errorlevel = 1
        code = exc.winerror if exc.winerror != ERROR_FILE_NOT_FOUND else 2
        return ToolResult(1, err=lines(node.texts.t(f"win.{_known(code)}")))
    return ToolResult(proc.errorlevel, lines(node.texts.t("cmd.moved", n=1)))


# ---------------------------------------------------------------------------------------------
# if


def _if_token(s: str) -> tuple[str, str]:
    s = s.lstrip(" \t")
    if s.startswith('"'):
        end = s.find('"', 1)
        if end < 0:
            return s, ""
        return s[: end + 1], s[end + 1 :]
    m = re.match(r"[^ \t=]*", s)
    tok = m.group(0) if m else ""
    return tok, s[len(tok) :]


#: ``if /?``: EQU NEQ LSS LEQ GTR GEQ, applied to the sign of the comparison
_COMPARE_OPS: dict[str, Callable[[int], bool]] = {
    "EQU": lambda c: c == 0,
    "NEQ": lambda c: c != 0,
    "LSS": lambda c: c < 0,
    "LEQ": lambda c: c <= 0,
    "GTR": lambda c: c > 0,
    "GEQ": lambda c: c >= 0,
}
_DECIMAL = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
#: a whole number to cmd.exe's wcstol(base 0) in octal or hexadecimal, which the model leaves out
_OTHER_NUMBER = re.compile(r"[+-]?(?:0[0-7]+|0[xX][0-9a-fA-F]+)")
#: operands whose order lstrcmpW (the user locale's word sort) and an ordinal comparison agree on:
#: quotes, digits and letters of one case (symbols < digits < letters; a hyphen or apostrophe, which
#: the word sort treats apart, and mixed case, where it puts "a" before "B", are left out)
_ORDINAL_SAFE = (re.compile(r'["0-9A-Z]*'), re.compile(r'["0-9a-z]*'))


def _compare(left: str, right: str, *, ignore_case: bool) -> int | str:
    """The sign of ``left`` compared with ``right`` as ``if /?`` says for EQU … GEQ: numbers when both
    are numbers, else strings (cmd.exe: lstrcmpW, or lstrcmpiW with ``/I``); a reason (str) where the
    model does not know what Windows would answer."""
    if _DECIMAL.fullmatch(left) and _DECIMAL.fullmatch(right):
        a, b = int(left), int(right)
        if not all(-(2**31) <= v < 2**31 for v in (a, b)):
            return "a number outside 32 bits (wcstol's overflow) is not simulated"
        return (a > b) - (a < b)
    numbers = [bool(_DECIMAL.fullmatch(v) or _OTHER_NUMBER.fullmatch(v)) for v in (left, right)]
    if all(numbers):
        return "an octal or hexadecimal number (wcstol base 0) is not simulated"
    if ignore_case:
        left, right = left.upper(), right.upper()
    if not any(p.fullmatch(left) and p.fullmatch(right) for p in _ORDINAL_SAFE):
        return "a string comparison in the user locale's collation (lstrcmpW) is not simulated"
    return (left > right) - (left < right)


def _if(node: SimulatedWindows, proc: Proc, rest: str, *, in_batch: bool) -> ToolResult:
    s = rest
    ignore_case = False
    negate = False
    tok, after = _if_token(s)
    if tok.lower() == "/i":
        ignore_case = True
        s = after
        tok, after = _if_token(s)
    if tok.lower() == "not":
        negate = True
        s = after
        tok, after = _if_token(s)
    low = tok.lower()
    if low == "exist":
        path, cmd = _if_token(after)
        path_s = path.strip('"')
        cond = _exists(node, proc, path_s)
    elif low == "errorlevel":
        num, cmd = _if_token(after)
        try:
            cond = proc.errorlevel >= int(num)
        except ValueError:
            return _syntax(node, proc, num)
    elif low == "defined":
        name, cmd = _if_token(after)
        cond = name in proc.env
    else:
        left = tok
        rest2 = after.lstrip(" \t")
        if not rest2.startswith("=="):
            op, after_op = _if_token(rest2)
            if op.upper() not in _COMPARE_OPS:
                return _syntax(node, proc, op or rest2.strip().split(" ")[0] if rest2.strip() else "")
            right, cmd = _if_token(after_op)
            if not left or not right:
                return _syntax(node, proc, cmd.strip().split(" ")[0] if cmd.strip() else "")
            order = _compare(left, right, ignore_case=ignore_case)
            if isinstance(order, str):
                return node.not_simulated_result(f"if {left} {op} {right}: {order}")
            cond = _COMPARE_OPS[op.upper()](order)
        else:
            if not left:
                return _syntax(node, proc, "==")
            right, cmd = _if_token(rest2[2:])
            if not right:
                return _syntax(node, proc, cmd.strip().split(" ")[0] if cmd.strip() else "")
            cond = left.lower() == right.lower() if ignore_case else left == right
    if not cmd.strip():
        return _syntax(node, proc, "")
    if cmd.strip().startswith("("):
        return node.not_simulated_result("if with a parenthesised block: if " + rest.strip())
    if re.search(r"(?i)\)\s*else\b", cmd) or re.match(r"(?i)\s*else\b", cmd):
        return node.not_simulated_result("if ... else")
    if cond != negate:
        return run_statement(node, proc, cmd, in_batch=in_batch)
    return ToolResult(proc.errorlevel)


_FOR = re.compile(r"^%([A-Za-z])\s+in\s+\(([^()]*)\)\s+do\s+(.+)$", re.IGNORECASE | re.DOTALL)
_FOR_F = re.compile(
    r"^/f\s+(?:\"([^\"]*)\"\s+)?%([A-Za-z])\s+in\s*\(\s*"
    r"(?:'(?P<command>.*?)'|\"(?P<string>[^\"]*)\"|(?P<files>[^'\"()]*?))"
    r"\s*\)\s*do\s+(?P<body>.+)$",
    re.IGNORECASE | re.DOTALL,
)
#: characters cmd.exe acts on when it parses a statement (a FOR value arrives after that parse)
_SPECIALS = "&|<>^"


def _for(node: SimulatedWindows, proc: Proc, rest: str, *, in_batch: bool) -> ToolResult:
    """``for %X in (<names>) do <statement>`` over plain names (no wildcards, no /D /R /L), with
    ``%X`` and ``%~$PATH:X`` (``for /?``: the first folder of PATH that holds the file, fully
    qualified, or nothing) in the statement; and ``for /f`` (:func:`_for_f`). A batch file's ``%%X``
    arrives here as ``%X``."""
    if re.match(r"(?i)/f\s", rest.strip()):
        return _for_f(node, proc, rest.strip(), in_batch=in_batch)
    m = _FOR.match(rest.strip())
    if m is None:
        return node.not_simulated_result("for: " + rest.strip())
    var, items, body = m.group(1), m.group(2).replace(",", " ").replace(";", " ").split(), m.group(3)
    result = ToolResult(proc.errorlevel)
    for item in items:
        if any(ch in item for ch in "*?"):
            return result + node.not_simulated_result("for over a wildcard: " + rest.strip())
        found = _search_path(node, proc, item)
        text = re.sub(r"%~\$PATH:" + var, lambda _m, f=found: f, body, flags=re.IGNORECASE)
        if re.search(r"%~[a-zA-Z$:]*" + var, text):
            return result + node.not_simulated_result("a for-variable modifier other than ~$PATH: " + body)
        text = text.replace("%" + var, item)
        # every iteration's output is the statement's output, not only the last one's
        result = result + run_statement(node, proc, text, in_batch=in_batch)
    return result


@dataclass
class ForOptions:
    """The ``"options"`` of ``for /f`` (``for /?``): ``eol=c``, ``skip=n``, ``delims=xxx``,
    ``tokens=x,y,m-n[*]``."""

    eol: str = ";"
    skip: int = 0
    delims: str = " \t"
    tokens: tuple[int, ...] = (1,)
    rest: bool = False  # a trailing * : one more variable gets the rest of the line


def _for_options(text: str) -> ForOptions | str:
    """The options, or why they are outside the model."""
    opts = ForOptions()
    s = text
    cut = s.lower().find("delims=")
    if cut >= 0:
        # delims= takes every character up to the end of the options (a blank among them), so it
        # has to come last; another keyword after it would be read as delimiters
        delims = s[cut + len("delims=") :]
        if "=" in delims:
            return "delims= before another keyword"
        opts.delims = delims
        s = s[:cut]
    for word in s.split():
        key, eq, value = word.partition("=")
        key = key.lower()
        if key == "eol" and eq and len(value) == 1:
            opts.eol = value
        elif key == "skip" and eq and value.isdigit():
            opts.skip = int(value)
        elif key == "tokens" and eq and value:
            parsed = _for_tokens(value)
            if parsed is None:
                return f"tokens={value}"
            opts.tokens, opts.rest = parsed
        else:
            return word  # usebackq, and forms outside the model (eol= with a blank …)
    return opts


def _for_tokens(value: str) -> tuple[tuple[int, ...], bool] | None:
    rest = value.endswith("*")
    body = value[:-1].rstrip(",") if rest else value
    numbers: list[int] = []
    for part in body.split(",") if body else []:
        m = re.fullmatch(r"([0-9]+)(?:-([0-9]+))?", part)
        if m is None:
            return None
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if not 1 <= lo <= hi <= 31:
            return None
        numbers.extend(range(lo, hi + 1))
    if numbers != sorted(set(numbers)):
        return None  # repeated or descending token numbers: cmd.exe's quirks there are not modelled
    return tuple(numbers), rest


def _split_for_line(line: str, opts: ForOptions) -> list[str | None] | None:
    """The values of a line's variables (``None``: a requested token the line lacks), or ``None``
    when the line is skipped (no requested token at all, or the eol character first)."""
    i, n = 0, len(line)
    delims = opts.delims
    while i < n and line[i] in delims:
        i += 1
    if i >= n or line[i] == opts.eol:
        return None
    values: list[str | None] = []
    number = 0
    wanted = set(opts.tokens)
    last = max(opts.tokens) if opts.tokens else 0
    while i < n and number < last:
        start = i
        while i < n and line[i] not in delims:
            i += 1
        number += 1
        if number in wanted:
            values.append(line[start:i])
        while i < n and line[i] in delims:
            i += 1
    values += [None] * (len(opts.tokens) - len(values))
    if opts.rest:
        values.append(line[i:] if i < n else None)
    if all(v is None for v in values):
        return None
    return values


def _delimiter_in_quotes(line: str, delims: str) -> bool:
    quoted = False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif quoted and c in delims:
            return True
    return False


def _outside_quotes(text: str, chars: str) -> bool:
    quoted = False
    for c in text:
        if c == '"':
            quoted = not quoted
        elif not quoted and c in chars:
            return True
    return False


def _for_f(node: SimulatedWindows, proc: Proc, rest: str, *, in_batch: bool) -> ToolResult:
    """``for /f ["options"] %X in ('command' | file | "string") do <statement>`` (``for /?``).

    A command runs as ``cmd /c`` in a child process and its stdout is read; a file is read in the
    OEM code page. Lines end at LF (a CR before it dropped); blank lines, lines whose first character
    after leading delimiters is the eol character, and lines without any requested token are skipped;
    ``skip=n`` drops the first n lines. ``%X`` (``%~X`` without surrounding quotes) and the letters
    after X (one per further token) are replaced in the statement, which is then run."""
    m = _FOR_F.match(rest)
    if m is None:
        return node.not_simulated_result("for /f in a form outside the model: for " + rest)
    if in_batch and proc.echo:
        # with echo on cmd.exe shows each iteration's statement after a prompt: not modelled
        return node.not_simulated_result("for /f in a batch file with echo on: for " + rest)
    opts = _for_options(m.group(1) or "")
    if isinstance(opts, str):
        return node.not_simulated_result(f"for /f option {opts}: for {rest}")
    first = m.group(2)
    count = len(opts.tokens) + (1 if opts.rest else 0)
    letters = [chr(ord(first) + k) for k in range(count)]
    if not all(ch.isalpha() and ch.isascii() for ch in letters):
        return node.not_simulated_result(f"for /f variables past Z/z: for {rest}")
    body = m.group("body")
    if re.search(r"%~[a-zA-Z$:]+[" + "".join(letters) + "]", body):
        return node.not_simulated_result("a for /f variable modifier other than %~X: " + body)
    err = ""
    if m.group("command") is not None:
        command = m.group("command")
        if _outside_quotes(command, _SPECIALS):
            return node.not_simulated_result(f"for /f over a command holding one of {_SPECIALS}: {command}")
        child = proc.child()
        child.stdout_file = None  # FOR reads the command's stdout through a pipe
        produced = node.run_cmdline(child, command)
        text, err = produced.out, produced.err
    elif m.group("string") is not None:
        text = m.group("string")
    else:
        names = m.group("files").split()
        text = ""
        for name in names:
            try:
                data = node.fs.read_bytes(name, proc.cwd)
            except FsError:
                return node.not_simulated_result(f"for /f over a file that cannot be read: {name}")
            if data.startswith((b"\xff\xfe", b"\xfe\xff")):
                return node.not_simulated_result(f"for /f over a UTF-16 file: {name}")
            text += node.decode(data)
            if text and not text.endswith("\n"):
                text += "\n"
    out_parts: list[str] = []
    err_parts: list[str] = [err]
    rc = proc.errorlevel
    for number, line in enumerate(text.split("\n")):
        if number < opts.skip:
            continue
        line = line[:-1] if line.endswith("\r") else line
        if not line:
            continue
        if _delimiter_in_quotes(line, opts.delims):
            # for /? says nothing of quotes in a line; Wine 8 keeps "a b" as one token
            return ToolResult(
                1,
                "".join(out_parts),
                "".join(err_parts)
                + node.not_simulated_result(f"for /f over a line with a delimiter inside quotes: {line}").err,
            )
        values = _split_for_line(line, opts)
        if values is None:
            continue
        bound = dict(zip(letters, ["" if v is None else v for v in values], strict=True))
        statement = _substitute_for(node, body, bound)
        if statement is None:
            return ToolResult(1, "".join(out_parts), "".join(err_parts) + lines(node.not_simulated[-1]))
        result = run_statement(node, proc, statement, in_batch=in_batch)
        out_parts.append(result.out)
        err_parts.append(result.err)
        rc = result.rc
    return ToolResult(rc, "".join(out_parts), "".join(err_parts))


def _substitute_for(node: SimulatedWindows, body: str, bound: dict[str, str]) -> str | None:
    """``body`` with ``%X`` / ``%~X`` replaced, or ``None`` (recorded "not simulated") when a value
    holds characters the model would act on: cmd.exe replaces FOR variables after it parsed the
    statement, so a value's ``&`` or ``>`` is text there, while this model parses after replacing."""
    pattern = re.compile(r"%(~?)([" + "".join(bound) + "])")
    problems: list[str] = []
    call = first_token(body)[0].lower() == "call"

    def replace(m: re.Match[str]) -> str:
        value = bound[m.group(2)]
        if m.group(1):
            value = value[1:] if value.startswith('"') else value
            value = value[:-1] if value.endswith('"') else value
        quoted = body[: m.start()].count('"') % 2 == 1
        specials = any(ch in value for ch in _SPECIALS)
        if specials and '"' in value:
            problems.append(f"a for /f value with a quote and one of {_SPECIALS}: {value}")
        elif specials and not quoted:
            problems.append(f"a for /f value with one of {_SPECIALS} outside quotes: {value}")
        elif value.count('"') % 2 and any(ch in body[m.end() :] for ch in _SPECIALS):
            # an odd quote in the value turns the model's quote state for what follows it
            problems.append(f"a for /f value with an odd quote before one of {_SPECIALS}: {value}")
        elif call and any(ch in value for ch in "%^"):
            problems.append(f"a for /f value with % or ^ given to call: {value}")
        return value

    text = pattern.sub(replace, body)
    if problems:
        node.record_not_simulated(problems[0])
        return None
    return text


def _search_path(node: SimulatedWindows, proc: Proc, name: str) -> str:
    for folder in [proc.cwd, *(proc.env.get("Path") or "").split(";")]:
        folder = folder.strip().rstrip("\\")
        if not folder:
            continue
        try:
            if node.fs.is_file(folder + "\\" + name, proc.cwd):
                return node.fs.full_path(folder + "\\" + name, proc.cwd)
        except FsError:
            continue
    return ""


def _exists(node: SimulatedWindows, proc: Proc, path: str) -> bool:
    if path.endswith("\\") and len(path) > 3:
        return node.fs.is_dir(path.rstrip("\\"), proc.cwd)
    return node.fs.exists(path, proc.cwd)


def _syntax(node: SimulatedWindows, proc: Proc, token: str) -> ToolResult:
    # cmd.exe: "<token> was unexpected at this time." and the batch file stops.
    message = f"{token} was unexpected at this time." if token else node.texts.t("cmd.syntax")
    if node.texts.ja and token:
        message = f"{token} は予期されていませんでした。"  # ja assumed
    raise CmdSyntaxError(message)
