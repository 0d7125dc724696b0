"""Shared helpers of the tool-output parsers: decoding, line splitting, clock and date values.

Pure code, no I/O. Everything here serves the parsers in this package; the public parser functions
turn every :class:`FormatProblem` raised by these helpers into :class:`clpbackup.errors.ParseError`,
so callers only ever see a typed record or a ``ParseError``.

Encodings (why :func:`decode` exists)
-------------------------------------
Console tools (wbadmin, schtasks, at, clpstat) write to a pipe in the node's **OEM code page**:
cp932 (Shift_JIS with Microsoft extensions) on ja-JP, cp437 on en-US. Some outputs are UTF-16 LE
instead: ntbackup's log files (``backup01.log``, with the FF FE byte order mark) and files
exported from Task Scheduler 2.0 (``schtasks /query /xml`` redirected by PowerShell). Captured
text may also reach us as UTF-8 (PowerShell remoting re-encodes). :func:`decode` honours a byte order
mark first, recognises BOM-less UTF-16 LE by its NUL bytes, and otherwise uses the code page given.

Line endings
------------
Windows tools end lines with CRLF; console progress updates (wbadmin ``copied (42%)``) end with a
bare CR when written to a console. :func:`split_lines` splits on CRLF, CR and LF only — not on the
other characters :meth:`str.splitlines` treats as line breaks (``\\x0b``, ``\\x1c``-``\\x1e``,
``\\x85``, U+2028 …), which can appear inside cp437 or cp932 text and must not cut a record.

Clock values (``parse_clock``)
------------------------------
``3:00 AM``, ``3:00:00 PM``, ``12:00 AM`` (midnight), ``15:00``, ``03:00:00``, ``午前 3:00``,
``午後 3:00:00`` and ``午前3:00`` (ja-JP, with or without the space). 12-hour values must have hours
1-12; ``午前 0:00`` is accepted as midnight, because Japanese locales write the 12-hour clock from 0.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from functools import wraps
from typing import ParamSpec, TypeVar

from clpbackup.errors import ParseError

__all__ = [
    "CODEPAGES",
    "FormatProblem",
    "decode",
    "guarded",
    "is_blank",
    "parse_clock",
    "parse_local_date",
    "parse_local_datetime",
    "split_blocks",
    "split_lines",
]

#: Code pages :func:`decode` knows (OEM code pages of the supported locales, plus the Unicode forms).
CODEPAGES: dict[int, str] = {
    437: "cp437",  # en-US OEM
    932: "cp932",  # ja-JP OEM (Shift_JIS + Microsoft extensions)
    1200: "utf-16-le",
    1201: "utf-16-be",
    65001: "utf-8",
}


class FormatProblem(Exception):
    """Raised inside a parser when the text does not have the expected shape.

    Never escapes a public parser function: :func:`guarded` converts it to ``ParseError``.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


P = ParamSpec("P")
R = TypeVar("R")


def guarded(tool: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a public parser so a :class:`FormatProblem` becomes ``ParseError(tool, text, reason)``.

    The parser's first positional argument is the text that was parsed (shown in the error). Other
    exceptions are *not* converted: the parsers are written not to raise them, and the property
    tests would hide a bug if they were swallowed here.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except FormatProblem as exc:
                text = args[0] if args and isinstance(args[0], str) else ""
                raise ParseError(tool, text, exc.reason) from None

        return wrapper

    return decorate


def _looks_utf16le(data: bytes) -> bool:
    """True when ``data`` is BOM-less UTF-16 LE text (mostly ASCII: a NUL after most characters)."""
    if len(data) < 4 or len(data) % 2:
        return False
    odd = data[1::2]
    return odd.count(0) >= len(odd) * 0.6 and data[0::2].count(0) < len(odd) * 0.2


def decode(data: bytes, codepage: int) -> str:
    """Decode tool output ``data`` printed in Windows code page ``codepage`` (437, 932, 1200, 65001 …).

    A byte order mark wins over ``codepage`` (UTF-8, UTF-16 LE/BE); BOM-less UTF-16 LE is recognised
    by its NUL bytes. The BOM is not part of the result. Raises ``ParseError`` for an unknown code
    page or bytes that are not valid in it (a node whose code page differs from the plan's
    ``connection.codepage`` shows up here rather than as garbled names).
    """
    if data.startswith(codecs.BOM_UTF8):
        encoding, body = "utf-8", data[len(codecs.BOM_UTF8):]
    elif data.startswith(codecs.BOM_UTF16_LE):
        encoding, body = "utf-16-le", data[2:]
    elif data.startswith(codecs.BOM_UTF16_BE):
        encoding, body = "utf-16-be", data[2:]
    elif _looks_utf16le(data):
        encoding, body = "utf-16-le", data
    else:
        found = CODEPAGES.get(codepage)
        if found is None:
            raise ParseError(
                "decode", "", f"code page {codepage} is not supported (known: {sorted(CODEPAGES)})"
            )
        encoding, body = found, data
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        shown = body[: min(len(body), 200)].decode(encoding, errors="replace")
        raise ParseError(
            "decode",
            shown,
            f"byte {exc.start} is not valid {encoding} (code page {codepage}); "
            "check the node's OEM code page against connection.codepage",
        ) from None


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Split ``text`` into lines on CRLF, CR or LF; drop a leading BOM and trailing whitespace."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [line.rstrip() for line in _LINE_BREAK.split(text)]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def is_blank(line: str) -> bool:
    """True for a line that holds only whitespace (including the ideographic space U+3000)."""
    return not line.strip()


def split_blocks(lines: Iterable[str]) -> list[list[str]]:
    """Group lines into blocks separated by blank lines (blank lines themselves are dropped)."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if is_blank(line):
            if current:
                blocks.append(current)
                current = []
        else:
            current.append(line)
    if current:
        blocks.append(current)
    return blocks


_CLOCK = re.compile(
    r"""^\s*
    (?:(?P<jampm>午前|午後)\s*)?
    (?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?
    (?:\s*(?P<ampm>[AaPp])\.?\s*[Mm]\.?)?
    \s*$""",
    re.VERBOSE,
)


def parse_clock(text: str) -> time | None:
    """Parse a clock value (see the module docstring for the forms); ``None`` if it is not one.

    Raises :class:`FormatProblem` when the value has the shape of a clock but is out of range
    (``25:00``, ``13:00 PM``).
    """
    match = _CLOCK.match(text)
    if match is None:
        return None
    hour, minute = int(match["h"]), int(match["m"])
    second = int(match["s"]) if match["s"] else 0
    marker = match["ampm"] or match["jampm"]
    if marker:
        pm = marker in ("P", "p", "午後")
        ja = marker in ("午前", "午後")
        if not ((0 if ja else 1) <= hour <= 12):
            raise FormatProblem(f"12-hour clock value {text.strip()!r} has hour {hour}")
        hour = hour % 12 + (12 if pm else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise FormatProblem(f"clock value {text.strip()!r} is out of range")
    return time(hour, minute, second)


_DATE = re.compile(r"^(?P<a>\d{1,4})[/.-](?P<b>\d{1,2})[/.-](?P<c>\d{1,4})$")


def parse_local_date(text: str) -> date | None:
    """Parse a node-local date: ``3/8/2013`` (month first), ``2013/03/08`` (year first), ``03-08-2013``.

    ``None`` when the text is not shaped like a date (``N/A``); :class:`FormatProblem` when it is
    but the numbers are impossible or the year is not four digits.
    """
    match = _DATE.match(text.strip())
    if match is None:
        return None
    a, b, c = match["a"], match["b"], match["c"]
    if len(a) == 4:  # year first: ja-JP 2013/03/08
        year, month, day = int(a), int(b), int(c)
    elif len(c) == 4:  # en-US month first: 3/8/2013; 2003's 03-08-2013 (see schtasks docstring)
        year, month, day = int(c), int(a), int(b)
    else:
        raise FormatProblem(f"date {text!r} has no four-digit year")
    try:
        return date(year, month, day)
    except ValueError:
        raise FormatProblem(f"date {text!r} is not a valid month-day-year / year-month-day date") from None


def parse_local_datetime(text: str) -> datetime | None:
    """Parse a node-local date and time as printed by schtasks; ``None`` if it has no such shape.

    Forms: ``9/3/2022 11:13:13 AM`` (en-US, month first), ``2013/03/09 1:00:00`` (ja-JP, year
    first), ``2013/03/09 午前 1:00:00``, and the 2003 order time-first ``04:00:00, 9/10/2011``. The
    result is naive (the node's local time; schtasks does not print a zone). Raises
    :class:`FormatProblem` for a value with that shape but impossible numbers.
    """
    value = text.strip()
    if not value:
        return None
    first, _, rest = value.partition(",")
    if rest and parse_clock(first) is not None:  # 2003: "04:00:00, 9/10/2011"
        clock_text, date_text = first, rest.strip()
    else:
        date_text, _, clock_text = value.partition(" ")
    day = parse_local_date(date_text)
    if day is None:
        return None
    clock = parse_clock(clock_text) if clock_text.strip() else time(0, 0)
    if clock is None:
        raise FormatProblem(f"date-time {value!r} has a date but no readable time")
    return datetime.combine(day, clock)
