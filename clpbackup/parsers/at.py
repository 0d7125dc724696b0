"""Parse the output of ``at`` (2003, 2008, 2008 R2, 2012; en-US, ja-JP): listing, one job, creation.

Pure code, no I/O. Input is text; decode bytes with :func:`clpbackup.parsers.common.decode`
(at.exe prints in the OEM code page: cp437 en-US, cp932 ja-JP).

The formats, as the simulator should print them
===============================================
Tags: **[cap]** seen in a real captured output; **[doc]** Microsoft's at.md sample (its column
widths are idealised); **[assumed]** not verified.

Listing (``at`` with no arguments) [cap: header, separator, row and offsets from a real parser's
comments]::

    Status ID   Day                     Time          Command Line
    -------------------------------------------------------------------------------
            1   Each M T W Th F S Su    1:00 AM       cmd /c "C:\\clpbackup\\local-daily.bat"
    ERROR   2   Tomorrow                3:00 AM       cmd /c "C:\\clpbackup\\shared-daily.bat"

- Columns: Status (0, 7), ID (7, 5), Day (12, 24), Time (36, 14), Command Line (50 …); the
  separator is 79 ``-``. The parser does not depend on these widths: a row is *status? id day
  time command*, where the time is the first clock value after the id (the Day column never holds
  one), so the doc's narrower sample parses too.
- Status is blank for a normal job; ``ERROR`` (or ``OK`` in the doc sample) otherwise [doc/assumed].
- Day values: ``Each F`` / ``Each M`` [doc], ``Tomorrow`` [cap]; ``Each M T W Th F S Su``
  (``/every:`` weekdays), ``Each 1 15`` (days of the month), ``Next F`` (``/next:``), ``Today``
  [assumed from the ``/every:``/``/next:`` syntax and the doc's ``Each F``]. ja-JP, all
  [assumed]: ``毎週 月 火 水 木 金 土 日``, ``毎月 1 15``, ``毎日`` (every day), ``次の 金`` /
  ``次回 金``, ``今日``, ``明日``. A long day list may end in ``...`` (skipped) [assumed].
- Time [cap en-US ``3:00 AM``; ja-JP assumed ``午前 3:00`` or 24-hour ``3:00`` / ``15:00``] is
  normalised to ``HH:MM``.
- Header ja-JP [assumed]: ``状態 ID   日付                    時刻          コマンド ライン``. Any header
  is recognised as the line above the dashed separator.
- Empty: ``There are no entries in the list.`` [cap] / ``一覧にエントリがありません。`` [assumed].
- 2012 prints first ``The AT command has been deprecated. Please use schtasks.exe instead.``
  [ref §9]; ja-JP [assumed] ``AT コマンドは推奨されていません。代わりに schtasks.exe を使用してください。``.
  Any line that mentions ``schtasks.exe`` and is not a row is taken as that banner and skipped.
  2008/2008 R2 print no banner.

One job (``at <id>``) [doc sample]; the five lines are read by position (ja-JP keys assumed
``タスク ID``, ``状態``, ``スケジュール``, ``時刻``, ``コマンド``)::

    Task ID:        1
    Status:         OK
    Schedule:       Each  F
    Time of Day:    4:30 PM
    Command:        net send group leads status due

Creation (``at 01:00 /every:M,T cmd /c "…"``) [cap 2003-era]::

    Added a new job with job ID = 1
    新しいジョブをジョブ ID = 1 で追加しました。        [assumed]

Refusals (``The request is not supported.``, ``Access is denied.``, ``The service has not been
started.``) have no ``ID =`` and raise ``ParseError`` carrying the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from clpbackup.parsers.common import FormatProblem, guarded, is_blank, parse_clock, split_lines

__all__ = ["AtJob", "DayKind", "parse_at_created", "parse_at_job", "parse_at_list"]

DayKind = Literal["each", "next", "today", "tomorrow", "other"]


@dataclass(frozen=True)
class AtJob:
    """One AT job.

    ``schedule`` is the Day column as printed; ``kind`` and ``days`` are its normalised reading:
    ``days`` holds weekday tokens ``M T W Th F S Su`` (Japanese weekdays mapped to them) or
    days of the month (``"1"``, ``"15"``). ``time`` is ``HH:MM`` (24 h). ``status`` is ``None``
    when the Status column is blank.
    """

    job_id: int
    status: str | None
    schedule: str
    kind: DayKind
    days: tuple[str, ...]
    time: str
    command: str

    @property
    def recurring(self) -> bool:
        """True for ``Each …`` / ``毎週 …`` / ``毎日`` jobs (they stay after running)."""
        return self.kind == "each"

    @property
    def failed(self) -> bool:
        """True when the Status column shows an error (anything but blank or ``OK``)."""
        return self.status is not None and self.status.upper() != "OK"


# AM/PM only when a word of its own: "15:00 amd.exe" is a 24-hour time and a command.
_TIME = r"(?:(?:午前|午後)\s*)?\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp]\.?[Mm]\.?(?=\s|$))?"
_ROW = re.compile(
    r"^\s*(?:(?P<status>[^\s\d]\S*)\s+)?(?P<id>\d+)\s+(?P<day>\S.*?)\s+(?P<time>" + _TIME + r")"
    r"(?:\s+(?P<cmd>\S.*?))?\s*$"
)
_SEPARATOR = re.compile(r"^\s*-{10,}\s*$")
_EMPTY = re.compile(r"There are no entries in the list|一覧にエントリがありません", re.IGNORECASE)
_HEADER = re.compile(r"^\s*(?:Status|状態)\s+ID\b", re.IGNORECASE)
_WEEKDAYS_JA = {"月": "M", "火": "T", "水": "W", "木": "Th", "金": "F", "土": "S", "日": "Su"}
_WEEKDAYS_EN = {"M": "M", "T": "T", "W": "W", "TH": "Th", "F": "F", "S": "S", "SU": "Su"}


def _hhmm(text: str) -> str:
    clock = parse_clock(text)
    if clock is None:
        raise FormatProblem(f"{text!r} is not a time of day")
    return f"{clock.hour:02d}:{clock.minute:02d}"


def _read_day(text: str) -> tuple[DayKind, tuple[str, ...]]:
    words = text.split()
    if not words:
        raise FormatProblem("the Day column is empty")
    head, rest = words[0], words[1:]
    lowered = head.casefold()
    if lowered in ("today", "今日"):
        return "today", ()
    if lowered in ("tomorrow", "明日"):
        return "tomorrow", ()
    if head == "毎日":
        return "each", ("M", "T", "W", "Th", "F", "S", "Su")
    if lowered in ("each", "毎週", "毎月"):
        return "each", _day_tokens(rest, text)
    if lowered in ("next", "次の", "次回"):
        return "next", _day_tokens(rest, text)
    return "other", ()


def _day_tokens(words: list[str], text: str) -> tuple[str, ...]:
    tokens: list[str] = []
    for word in words:
        if word.isdigit() and 1 <= int(word) <= 31:
            tokens.append(str(int(word)))
        elif word.upper() in _WEEKDAYS_EN:
            tokens.append(_WEEKDAYS_EN[word.upper()])
        elif word in _WEEKDAYS_JA:
            tokens.append(_WEEKDAYS_JA[word])
        elif word in ("...", "…"):
            continue  # at.exe shortens a long day list
        else:
            raise FormatProblem(f"day {word!r} in {text.strip()!r} is neither a weekday nor 1-31")
    if not tokens:
        raise FormatProblem(f"{text.strip()!r} names no day")
    return tuple(tokens)


def _row(line: str) -> AtJob | None:
    match = _ROW.match(line)
    if match is None:
        return None
    kind, days = _read_day(match["day"])
    return AtJob(
        job_id=int(match["id"]),
        status=match["status"],
        schedule=match["day"].strip(),
        kind=kind,
        days=days,
        time=_hhmm(match["time"]),
        command=(match["cmd"] or "").strip(),
    )


@guarded("at")
def parse_at_list(text: str) -> list[AtJob]:
    """Parse the ``at`` listing (en-US or ja-JP, any column widths) into jobs in printed order.

    ``There are no entries in the list.`` (or the ja-JP text) gives ``[]``; the 2012 deprecation
    banner is skipped; any other line that is not a header, separator or job raises
    ``ParseError``.
    """
    lines = split_lines(text)
    if all(is_blank(line) for line in lines):
        raise FormatProblem("the output is empty")
    headers = {i - 1 for i, line in enumerate(lines) if _SEPARATOR.match(line) and i > 0}
    jobs: list[AtJob] = []
    empty = False
    for index, line in enumerate(lines):
        if is_blank(line) or _SEPARATOR.match(line) or index in headers or _HEADER.match(line):
            continue
        if _EMPTY.search(line):
            empty = True
            continue
        job = _row(line)
        if job is not None:
            jobs.append(job)
        elif "schtasks.exe" in line.lower():
            continue  # "The AT command has been deprecated. Please use schtasks.exe instead."
        else:
            raise FormatProblem(f"unexpected line in the at listing: {line.strip()!r}")
    if empty and jobs:
        raise FormatProblem("the listing says it is empty but also lists jobs")
    return jobs


_CREATED = re.compile(r"\bID\s*=\s*(\d+)", re.IGNORECASE)


@guarded("at (create)")
def parse_at_created(text: str) -> int:
    """The job id from ``Added a new job with job ID = 1`` (or the ja-JP message).

    Raises ``ParseError`` (whose reason repeats what at printed) when no id is there.
    """
    match = _CREATED.search(text)
    if match is None:
        shown = " ".join(line.strip() for line in split_lines(text) if line.strip())[:200]
        raise FormatProblem(f"no 'job ID = N' in the output; at said: {shown or '<nothing>'}")
    return int(match.group(1))


_KEY_VALUE = re.compile(r"^\s*(?P<key>[^:：]+?)\s*[:：]\s*(?P<value>.*?)\s*$")


@guarded("at <id>")
def parse_at_job(text: str) -> AtJob:
    """Parse the single-job view of ``at <id>`` (five ``key: value`` lines, read by position)."""
    values: list[str] = []
    for line in split_lines(text):
        if is_blank(line) or "schtasks.exe" in line.lower():
            continue
        match = _KEY_VALUE.match(line)
        if match is None:
            raise FormatProblem(f"unexpected line in the job view: {line.strip()!r}")
        values.append(match["value"])
    if len(values) != 5:
        raise FormatProblem(f"the job view has {len(values)} 'key: value' lines, expected 5")
    job_id, status, schedule, clock, command = values
    if not job_id.isdigit():
        raise FormatProblem(f"task id {job_id!r} is not a number")
    kind, days = _read_day(schedule)
    return AtJob(
        job_id=int(job_id),
        status=status or None,
        schedule=" ".join(schedule.split()),
        kind=kind,
        days=days,
        time=_hhmm(clock),
        command=command,
    )
