"""Independent models of how Windows splits command lines, for tests.

Written from the documented behaviour, separately from ``clpbackup.winquote`` (which *builds*
command lines), so round-trip tests compare two implementations instead of one with itself.

* :func:`command_line_to_argv` — ``CommandLineToArgvW`` (the MSVCRT rules, with the special
  treatment of the program name and of runs of double quotes).
* :func:`batch_line_to_command_line` — what ``cmd.exe`` does to one simple command line of a batch
  file before starting the program: ``%%`` becomes ``%``, and outside double quotes ``^x`` becomes
  ``x``; an unescaped operator (``& | < > ( )``) outside quotes is reported, since for our
  generated lines it would mean cmd.exe splits the command.
* :func:`split_redirection` — ``command > "file" 2>&1`` → the command and the target.
"""

from __future__ import annotations

from dataclasses import dataclass

_BLANK = " \t"


def command_line_to_argv(line: str) -> list[str]:
    """Split a command line the way ``CommandLineToArgvW`` does.

    Program name: up to the first whitespace, or between the first two double quotes (no escapes).
    Arguments: separated by spaces/tabs outside quotes. ``\\`` is literal unless a run of them ends
    at a ``"``: ``2n`` backslashes + ``"`` → ``n`` backslashes and a quote delimiter, ``2n+1`` → ``n``
    backslashes and a literal ``"``. In a run of quotes, every third quote is a literal ``"``
    (the documented ``""`` inside a quoted run behaviour of the Windows implementation).
    """
    argv: list[str] = []
    i = 0
    n = len(line)
    # -- the program name
    if line.startswith('"'):
        end = line.find('"', 1)
        if end < 0:
            argv.append(line[1:])
            return argv
        argv.append(line[1:end])
        i = end + 1
    else:
        j = 0
        while j < n and not line[j].isspace():
            j += 1
        argv.append(line[:j])
        i = j
    while i < n and line[i] in _BLANK:
        i += 1
    if i >= n:
        return argv
    # -- the arguments
    current: list[str] = []
    in_arg = True
    quotes = 0  # 0: outside quotes; 1: inside a quoted run
    backslashes = 0
    while i < n:
        ch = line[i]
        if ch in _BLANK and quotes == 0:
            argv.append("".join(current))
            current = []
            backslashes = 0
            while i < n and line[i] in _BLANK:
                i += 1
            in_arg = i < n
            continue
        if ch == "\\":
            current.append(ch)
            backslashes += 1
            i += 1
            continue
        if ch == '"':
            if backslashes % 2 == 0:
                # n backslashes then a delimiter quote
                del current[len(current) - backslashes // 2 :]
                quotes += 1
            else:
                del current[len(current) - backslashes // 2 - 1 :]
                current.append('"')
            i += 1
            backslashes = 0
            while i < n and line[i] == '"':
                quotes += 1
                if quotes == 3:
                    current.append('"')
                    quotes = 0
                i += 1
            if quotes == 2:
                quotes = 0
            continue
        current.append(ch)
        backslashes = 0
        i += 1
    if in_arg:
        argv.append("".join(current))
    return argv


class BatchParseError(ValueError):
    """The batch line would not run as one simple command."""


_OPERATORS = frozenset("&|<>()")


def batch_line_to_command_line(line: str) -> str:
    """The command line cmd.exe starts for one simple command line of a batch file.

    Percent phase: ``%%`` → ``%``; a lone ``%`` would start a variable reference, which our lines
    never contain, so it is an error. Then, outside double quotes, ``^x`` → ``x`` and an unescaped
    ``& | < > ( )`` is an error; inside quotes everything is literal. ``!`` is an error (delayed
    expansion).
    """
    # phase 1: percent
    text: list[str] = []
    i = 0
    while i < len(line):
        if line[i] == "%":
            if line[i + 1 : i + 2] == "%":
                text.append("%")
                i += 2
                continue
            raise BatchParseError(f"lone % at {i} in {line!r}")
        text.append(line[i])
        i += 1
    s = "".join(text)
    # phase 2: quotes, carets, operators
    out: list[str] = []
    quoted = False
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "!":
            raise BatchParseError(f"! at {i} in {line!r}")
        if ch == '"':
            quoted = not quoted
            out.append(ch)
        elif not quoted and ch == "^":
            if i + 1 >= len(s):
                raise BatchParseError(f"line continuation caret in {line!r}")
            out.append(s[i + 1])
            i += 1
        elif not quoted and ch in _OPERATORS:
            raise BatchParseError(f"unescaped operator {ch!r} at {i} in {line!r}")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class Redirected:
    """A command line with its output redirection split off."""

    command: str
    target: str | None
    append: bool
    stderr_to_stdout: bool


def split_redirection(line: str) -> Redirected:
    """Split ``<command> > "<file>" 2>&1`` (or ``>>``) at the first ``>`` outside quotes."""
    quoted = False
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == '"':
            quoted = not quoted
        elif ch == "^" and not quoted:
            i += 2  # the caret escapes the next character
            continue
        elif ch == ">" and not quoted:
            # only spaces and tabs separate tokens for cmd.exe here (not U+00A0 and friends)
            command = line[:i].rstrip(" \t")
            rest = line[i:]
            append = rest.startswith(">>")
            rest = rest[2:] if append else rest[1:]
            rest = rest.strip(" \t")
            both = rest.endswith("2>&1")
            if both:
                rest = rest[: -len("2>&1")].strip(" \t")
            return Redirected(command, rest.strip('"'), append, both)
        i += 1
    return Redirected(line, None, False, False)
