"""Turn argv lists into Windows command lines, batch-file lines and PowerShell literals (pure).

ARCHITECTURE decision 1: commands are data; this module is the one place where a value from the plan
becomes text that a Windows program, ``cmd.exe`` or PowerShell will parse again. Three targets:

* :func:`argument_string` / :func:`command_line` — the text ``CreateProcess`` gets. Programs built
  with the Microsoft C runtime (and ``CommandLineToArgvW``) split it back into argv with the MSVCRT
  rules: arguments are separated by spaces or tabs; ``"`` starts and ends a quoted run; ``2n``
  backslashes before a ``"`` become ``n`` backslashes and the quote is a delimiter, ``2n+1``
  backslashes before a ``"`` become ``n`` backslashes and a literal ``"``; other backslashes are
  literal. ``Command.raw_tail`` is used verbatim for programs that do not parse their command line
  that way (``rsm refresh /LF"Library name"``, ``at … cmd /c "…"``).
* :func:`batch_line` — the same text as a line of a ``.bat`` file: ``cmd.exe`` expands ``%`` in
  batch files (so ``%`` is doubled) and treats ``& | < > ^ ( )`` outside double quotes as
  metacharacters (so they get a ``^``).
* :func:`ps_literal` — a PowerShell single-quoted string literal.

A value that cannot be carried safely raises :class:`~clpbackup.errors.QuotingError` naming the plan
field it came from, the offending character and what to do. This module does no I/O.
"""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Container, Iterable, Sequence
from typing import TYPE_CHECKING

from clpbackup.errors import QuotingError

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.commands import Command

__all__ = [
    "BATCH_METACHARACTERS",
    "CMD_DELIMITERS",
    "CMD_PATH_FORBIDDEN",
    "argument_string",
    "batch_line",
    "batch_path",
    "batch_rem",
    "check_codepage",
    "check_value",
    "cmd_c_path",
    "command_line",
    "join_lines",
    "ps_literal",
    "quote_arg",
]

#: Characters ``cmd.exe`` treats as operators outside double quotes; escaped with ``^``.
BATCH_METACHARACTERS = frozenset("&|<>^()")

#: Characters refused in a path that ``cmd /c "…"``, ``start "" "…"`` or ``call "…"`` runs:
#: with any of ``& < > ( ) @ ^ |`` between the quotes ``cmd /c`` strips the outer quotes and the path
#: is parsed unquoted; ``%`` and ``!`` are expanded again when the scheduler starts the command;
#: ``"`` cannot be inside a quoted path at all.
#: ``, ; =`` (:data:`CMD_DELIMITERS`): ``cmd /c`` also strips the quotes when there is no blank
#: between them, and then ends the command name at these (found by the Wine judge, #14).
CMD_DELIMITERS = frozenset(",;=")
CMD_PATH_FORBIDDEN = frozenset('&<>()@^|%!"') | CMD_DELIMITERS

# PowerShell treats these as single quotes too (left, right, low-9 and reversed-9 single quotation
# marks); inside a single-quoted literal each one must be doubled like ``'``.
_PS_SINGLE_QUOTES = frozenset("'\u2018\u2019\u201a\u201b")

_WHITESPACE_TO_QUOTE = frozenset(" \t")


def _describe(ch: str) -> str:
    """``U+000A (LINE FEED)`` style name of a character for error messages."""
    name = unicodedata.name(ch, None)
    if name is None:
        names = {"\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\t": "TAB", "\x00": "NUL"}
        name = names.get(ch, "control character")
    return f"U+{ord(ch):04X} ({name})"


def _shown(value: str) -> str:
    """A printable rendering of a value for an error message (control characters escaped)."""
    text = value.encode("unicode_escape").decode("ascii") if not value.isprintable() else value
    return text if len(text) <= 80 else text[:77] + "..."


def _refuse(value: str, field: str | None, what: str, hint: str) -> QuotingError:
    return QuotingError(f"{what} in {_shown(value)!r}", field=field, hint=hint)


def check_value(
    value: str,
    *,
    field: str | None,
    codepage: int | None = None,
    allow_tab: bool = False,
) -> str:
    """Check that ``value`` can be carried in a command line; return it unchanged.

    Refused: NUL, CR, LF and every other control character (tab too, unless ``allow_tab``), and,
    when ``codepage`` is given, any character that code page cannot encode (batch files are read by
    ``cmd.exe`` in the node's OEM code page).
    """
    # Fast path (every plan value passes here on each render): a printable string holds none of the
    # refused categories, so the per-character scan below is only needed to find and name one.
    for ch in "" if value.isprintable() else value:
        if ch == "\t" and allow_tab:
            continue
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") or ch in "\x00\r\n":
            raise _refuse(
                value,
                field,
                f"the value contains the control (or invisible format) character {_describe(ch)}",
                "a Windows command line cannot carry line breaks or control characters; "
                "remove it from the plan value",
            )
    if codepage is not None:
        check_codepage(value, codepage=codepage, field=field)
    return value


def _codec(codepage: int) -> str:
    name = f"cp{codepage}"
    try:
        codecs.lookup(name)
    except LookupError:
        raise QuotingError(
            f"code page {codepage} is not known to clpbackup",
            field="connection.codepage",
            hint="use the node's OEM code page, such as 437 (en-US) or 932 (ja-JP)",
        ) from None
    return name


def check_codepage(value: str, *, codepage: int, field: str | None) -> str:
    """Check that every character of ``value`` survives the node's code page; return it unchanged.

    ``C:\\業務データ`` is fine in cp932 but cannot be written in a cp437 batch file.
    """
    codec = _codec(codepage)
    try:
        # Fast path: the whole string survives the round trip (the code pages are stateless, so
        # then every character does); the per-character scan below only finds and names the culprit.
        if value.encode(codec).decode(codec) == value:
            return value
    except UnicodeError:
        pass
    for ch in value:
        try:
            ok = ch.encode(codec).decode(codec) == ch
        except UnicodeError:
            ok = False
        if not ok:
            raise _refuse(
                value,
                field,
                f"the character {ch!r} {_describe(ch)} cannot be written in code page {codepage}",
                f"the node's batch files are read by cmd.exe in code page {codepage}; use a name "
                "without that character, or set connection.codepage to the node's OEM code page "
                "(932 for Japanese Windows)",
            )
    return value


# -- MSVCRT / CommandLineToArgvW ----------------------------------------------------------------------


def quote_arg(arg: str, *, force: bool = False, field: str | None = None) -> str:
    """One argument quoted so that the MSVCRT rules give back exactly ``arg``.

    The argument is quoted when it is empty, contains a space, a tab or a double quote, or when
    ``force`` is set (some tools are conventionally called with quoted values, such as ntbackup's
    ``/J "job"``). Inside quotes, backslashes that precede a ``"`` or the closing quote are doubled
    and each ``"`` becomes ``\\"``.
    """
    check_value(arg, field=field, allow_tab=True)
    if arg and not force and not any(c in _WHITESPACE_TO_QUOTE or c == '"' for c in arg):
        return arg
    out = ['"']
    backslashes = 0
    for ch in arg:
        if ch == "\\":
            backslashes += 1
            continue
        if ch == '"':
            out.append("\\" * (2 * backslashes + 1) + '"')
        else:
            out.append("\\" * backslashes + ch)
        backslashes = 0
    out.append("\\" * (2 * backslashes) + '"')
    return "".join(out)


def argument_string(
    argv_tail: Sequence[str], *, always_quote: Container[int] = (), field: str | None = None
) -> str:
    """The argument text after the program name: ``argv_tail`` quoted and joined by spaces.

    ``always_quote`` holds indexes into ``argv_tail`` to quote even when not needed.
    """
    return " ".join(quote_arg(a, force=i in always_quote, field=field) for i, a in enumerate(argv_tail))


def _program(program: str, field: str | None) -> str:
    # CommandLineToArgvW reads argv[0] differently: up to the next space, or between two quotes
    # with no escapes at all. So a program name may be quoted but can never contain a quote.
    check_value(program, field=field)
    if not program or '"' in program:
        raise _refuse(
            program,
            field,
            "a program name must be non-empty and cannot contain a double quote",
            "name the program without quotes (clpbackup adds them when the path has spaces)",
        )
    if any(c in _WHITESPACE_TO_QUOTE for c in program):
        return f'"{program}"'
    return program


def command_line(cmd: Command) -> str:
    """The full command line of ``cmd`` (program name and arguments) for ``CreateProcess``.

    Uses ``cmd.raw_tail`` verbatim when it is set, otherwise :func:`argument_string` of
    ``cmd.argv[1:]``.
    """
    program = _program(cmd.argv[0], cmd.field)
    if cmd.raw_tail is not None:
        tail = check_value(cmd.raw_tail, field=cmd.field, allow_tab=False)
    else:
        tail = argument_string(cmd.argv[1:], field=cmd.field)
    return f"{program} {tail}" if tail else program


# -- cmd.exe batch files ------------------------------------------------------------------------------


def _escape_for_batch(text: str, *, field: str | None, context: str) -> str:
    """``text`` as cmd.exe must read it from a batch file to pass ``text`` on unchanged.

    cmd.exe toggles its "quoted" state at every ``"``; outside that state ``& | < > ^ ( )`` are
    operators and get a ``^``. ``%`` is expanded in batch files wherever it is, so it is doubled.
    ``!`` is refused: with delayed expansion on (a registry setting of the node) it is expanded even
    inside quotes and no escape works in both modes.
    """
    out: list[str] = []
    quoted = False
    for ch in text:
        if ch == "!":
            raise _refuse(
                text,
                field,
                "the value contains '!', which cmd.exe expands when delayed expansion is enabled",
                "rename the path or value so it has no '!'",
            )
        if ch == '"':
            quoted = not quoted
            out.append(ch)
        elif ch == "%":
            out.append("%%")
        elif not quoted and ch in BATCH_METACHARACTERS:
            out.append("^" + ch)
        else:
            out.append(ch)
    if quoted:
        # An odd number of quotes leaves cmd.exe in its quoted state up to the end of the line:
        # whatever follows on the line (a redirection to the log) would be read as text.
        raise _refuse(
            text,
            field,
            f"the {context} has an unbalanced double quote, so cmd.exe would misread the rest of "
            "the line",
            "remove the double quote from the plan value",
        )
    return "".join(out)


#: The longest line cmd.exe reads, at the prompt and in a batch file (Microsoft KB 830473).
CMD_LINE_MAX = 8191


def check_line_length(line: str, *, field: str | None) -> str:
    """``line`` if cmd.exe can read it (at most :data:`CMD_LINE_MAX` characters), else ``QuotingError``.

    cmd.exe stops at "The input line is too long." and the batch file ends there: the backup
    would never run, so the plan is refused before anything is written.
    """
    if len(line) > CMD_LINE_MAX:
        raise QuotingError(
            f"a batch line would be {len(line)} characters; cmd.exe reads at most {CMD_LINE_MAX} "
            "(KB 830473)",
            field=field,
            hint="split the job into several jobs, or name parent folders instead of many long paths",
        )
    return line


def batch_line(cmd: Command, codepage: int) -> str:
    """The line that runs ``cmd`` in a ``.bat`` file encoded in ``codepage`` (no line end).

    ``%`` is doubled, cmd metacharacters outside quotes get a ``^``; control characters, ``!``,
    an unbalanced ``"`` and characters outside the code page are refused with
    :class:`~clpbackup.errors.QuotingError` naming ``cmd.field``.
    """
    text = command_line(cmd)
    check_codepage(text, codepage=codepage, field=cmd.field)
    return _escape_for_batch(text, field=cmd.field, context="command line")


def cmd_c_path(path: str, *, field: str | None, codepage: int | None = None) -> str:
    """Check a path that ``cmd /c "…"``, ``start "" "…"`` or ``call "…"`` will run; return it.

    ``cmd /c`` keeps the quotes around a path only when there is no ``& < > ( ) @ ^ |`` between
    them and at least one blank (else ``, ; =`` split it), and the scheduler hands the command line
    to cmd.exe again (``%`` and ``!`` expand), so such paths are refused rather than escaped
    (``C:\\Program Files (x86)\\…`` is one).
    """
    check_value(path, field=field, codepage=codepage)
    for ch in path:
        if ch in CMD_DELIMITERS:
            raise _refuse(
                path,
                field,
                f"the path contains {ch!r}: cmd.exe drops the quotes of cmd /c \"<path>\" when there "
                "is no blank between them and then ends the command name at , ; = (every batch "
                "file would fail with 9009)",
                "choose a folder without , ; = & < > ( ) @ ^ | % ! \" in its name, such as C:\\clpbackup",
            )
        if ch in CMD_PATH_FORBIDDEN:
            raise _refuse(
                path,
                field,
                f"the path contains {ch!r}, which cmd.exe would reinterpret when it runs the batch "
                "file (cmd /c, START, CALL)",
                "choose a folder without , ; = & < > ( ) @ ^ | % ! \" in its name, such as C:\\clpbackup",
            )
    if not path:
        raise QuotingError("the path is empty", field=field)
    return path


def batch_path(path: str, *, field: str | None, codepage: int) -> str:
    """``"<path>"`` as written in a batch file (``%`` doubled); the path is checked like
    :func:`cmd_c_path`."""
    cmd_c_path(path, field=field, codepage=codepage)
    return '"' + path + '"'


def batch_rem(text: str, *, codepage: int, field: str | None = None) -> str:
    """A ``rem`` line with ``text`` (no line end). cmd.exe expands ``%`` even in ``rem`` lines and a
    trailing ``^`` would join the next line, so those are refused; the text is clpbackup's own."""
    check_value(text, field=field, codepage=codepage)
    for ch in text:
        if ch in "%^!\"<>|&":
            raise _refuse(text, field, f"a rem line cannot carry {ch!r}", "leave it out of the comment")
    return f"rem {text}" if text else "rem"


# -- PowerShell ---------------------------------------------------------------------------------------


def ps_literal(value: str, *, field: str | None = None) -> str:
    """A PowerShell single-quoted string literal whose value is ``value``.

    Single quotes, and the typographic single quotes PowerShell treats the same way
    (U+2018, U+2019, U+201A, U+201B), are doubled; no other character is special in a
    single-quoted string. Control characters are refused like everywhere else.
    """
    check_value(value, field=field, allow_tab=True)
    return "'" + "".join(ch * 2 if ch in _PS_SINGLE_QUOTES else ch for ch in value) + "'"


def join_lines(lines: Iterable[str]) -> str:
    """Batch-file text: the lines joined with CRLF and ended with CRLF."""
    return "".join(line + "\r\n" for line in lines)
