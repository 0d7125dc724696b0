r"""Parse ``schtasks`` output: ``/query /fo csv /v``, ``/query /fo list /v``, ``/query /xml`` and
the messages of ``/create``, ``/run``, ``/delete``, ``/end`` (2003, 2008, 2008 R2, 2012; en-US, ja-JP).

Pure code, no I/O. Input is text; decode bytes with :func:`clpbackup.parsers.common.decode`.

The formats, as the simulator should print them
===============================================
Tags: **[cap]** seen in a real captured output; **[ref]** stated by the project's
``windows-tools.md``; **[seen]** a header written in a public script (typed or pasted by its
author); **[assumed]** from general knowledge, not verified.

Columns — parsed by position, never by the (localized) header text
------------------------------------------------------------------
``/v`` prints 28 fields per record in both column sets. Index: field.

Task Scheduler 2.0 — 2008, 2008 R2, 2012 (``layout="v2"``) [cap en-US LIST 2019; ja-JP CSV header seen]::

     0 HostName                 ホスト名
     1 TaskName (\Folder\Name)  タスク名
     2 Next Run Time            次回の実行時刻
     3 Status                   状態
     4 Logon Mode               ログオン モード
     5 Last Run Time            前回の実行時刻
     6 Last Result              前回の結果
     7 Author                   作成者
     8 Task To Run              実行するタスク
     9 Start In                 開始
    10 Comment                  コメント
    11 Scheduled Task State     スケジュールされたタスクの状態
    12 Idle Time                アイドル時間
    13 Power Management         電源管理
    14 Run As User              ユーザーとして実行
    15 Delete Task If Not Rescheduled          再度スケジュールされない場合はタスクを削除する
    16 Stop Task If Runs X Hours and X Mins    タスクを停止するまでの時間
    17 Schedule                 スケジュール
    18 Schedule Type            スケジュールの種類
    19 Start Time               開始時刻
    20 Start Date               開始日
    21 End Date                 終了日
    22 Days                     日
    23 Months                   月
    24 Repeat: Every            繰り返し: 間隔
    25 Repeat: Until: Time      繰り返し: 終了時刻
    26 Repeat: Until: Duration  繰り返し: 期間
    27 Repeat: Stop If Still Running           繰り返し: 実行中の場合は停止

Task Scheduler 1.0 — 2003 (``layout="v1"``) [ref §9 en-US; ja-JP names assumed — the same words as
v2 in the v1 order]: HostName, TaskName (no leading ``\``), Next Run Time, Status, Logon Mode,
Last Run Time, Last Result, Creator, **Schedule**, Task To Run, Start In, Comment, Scheduled Task
State, **Scheduled Type**, Start Time, Start Date, End Date, Days, Months, Run As User, Delete Task
If Not Rescheduled, Stop Task If Runs X Hours and X Mins, Repeat: Every, Repeat: Until: Time,
Repeat: Until: Duration, Repeat: Stop If Still Running, Idle Time, Power Management.

Layout detection (when ``layout`` is not given): the header/keys are compared with the known en-US
and ja-JP names (a hint only); otherwise task names decide — 2008+ prints ``\name``, 2003 ``name``.

Values
------
- Times are the node's local time in its short date + long time format: en-US
  ``3/8/2013 1:00:00 AM``, ja-JP ``2013/03/08 1:00:00``, 2003 time first ``01:00:00, 3/8/2013``
  [ref]. Month-first is assumed for non-year-first dates (en-US); other day-first locales are
  out of scope.
- "Never" markers → ``None``: ``Never``, ``N/A``, ``Disabled``, ``無効``, ``なし``, any non-date
  text, and the Task Scheduler "never ran" date ``11/30/1999 12:00:00 AM`` / ``1999/11/30 0:00:00``
  [assumed, widely reported]. A value that starts like a date but is impossible → ``ParseError``.
- ``Last Result`` is decimal (``0``, ``1``, ``267011`` = 0x41303 "not yet run"); ``0x…`` is also
  read. ``Status``: ``Ready``/``準備完了``, ``Running``/``実行中``, ``Disabled``/``無効``,
  ``Queued``, ``Could not start``; 2003 leaves it empty for an idle task [ref].
- ``Scheduled Task State``: ``Enabled``/``有効``, ``Disabled``/``無効``.
- Schedule types: ``Daily``/``毎日``, ``Weekly``/``毎週``, ``Monthly``/``毎月``, ``One Time Only``/
  ``1 回だけ`` [ja assumed], ``At system start up``/``システム起動時`` [ja assumed], ``At logon
  time``, ``At idle time``. A task with several triggers prints one full record per trigger
  [ref]; they are merged into one :class:`ScheduledTask` with several :class:`TaskTrigger`.

CSV (``/fo csv /v``)
--------------------
Every field quoted, comma-separated; the header row is repeated for every folder on 2008+ [ref]
(dropped here), folders may be separated by blank lines. ja-JP: the same, cp932.

LIST (``/fo list /v``)
----------------------
``<key>:`` padded with spaces so that values start in one column (column 38 in en-US) [cap];
records are separated by a blank line; on 2008+ a ``Folder: \`` (ja ``フォルダー: \``) line
opens each folder [cap]. Keys themselves may contain ``: `` (``Repeat: Every:``), so each line is
split at the common value column, not at the first colon.

XML (``/query /xml [/tn name]``, 2008+)
---------------------------------------
Task Scheduler 2.0 XML, ``<?xml version="1.0" encoding="UTF-16"?>`` [cap]. One task: a
``<Task>`` root (its name from ``RegistrationInfo/URI`` or the ``name`` argument). All tasks: a
``<Tasks>`` root where a comment ``<!-- \name -->`` precedes each ``<Task>`` [assumed]. Read:
``RegistrationInfo/Author``, ``Triggers/*`` (``TimeTrigger`` = once, ``CalendarTrigger`` with
``ScheduleByDay``/``ScheduleByWeek``/``ScheduleByMonth``, ``BootTrigger``, ``LogonTrigger``,
``IdleTrigger``, ``EventTrigger``; ``StartBoundary``, ``Enabled``, ``DaysOfWeek``),
``Principals/Principal/UserId`` (``S-1-5-18`` is shown as ``SYSTEM``), ``Settings/Enabled``,
``Actions/Exec/Command`` + ``Arguments``. The XML has no status, next or last run time.

Messages of /create, /run, /delete, /end
----------------------------------------
One or more lines ``<PREFIX>: <text>``; prefixes ``SUCCESS``/``成功``, ``ERROR``/``エラー``,
``WARNING``/``警告``, ``INFO``/``情報`` [cap]. Lines without a prefix continue the previous
message. Examples::

    SUCCESS: The scheduled task "X" has successfully been created.          [cap]
    成功: スケジュール タスク "X" は正しく作成されました。                      [cap]
    SUCCESS: Attempted to run the scheduled task "X".                       [cap]
    成功: スケジュール タスク "X" の実行が試行されました。                      [cap]
    情報: スケジュール タスク "X" は現在実行中です。                            [cap]
    SUCCESS: The scheduled task "X" was successfully deleted.               [cap]
    成功: スケジュール タスク "X" は正しく削除されました。                      [cap]
    SUCCESS: The scheduled task "X" has been terminated successfully.       [ref, assumed]
    成功: スケジュール タスク "X" は正常に終了されました。                      [assumed]
    WARNING: Task may not run because /ST is earlier than current time.     [ref, assumed]
    警告: /ST が現時刻よりも早いため、タスクは実行されない可能性があります。       [cap]
    ERROR: Invalid syntax. Value for '/TR' option cannot be more than 261 character(s).  [assumed]
    エラー: '/TR' のオプションの値を 261 文字より多い文字で指定することはできません。   [cap]

Task not found: ``ERROR: The system cannot find the file specified.`` [cap] /
``エラー: 指定されたファイルが見つかりません。`` [cap]; ``INFO: No matching tasks were found.``
[cap]; ``ERROR: The specified task name "X" does not exist in the system.`` [assumed] /
``エラー: 指定されたタスク名 "X" はシステムに存在しません。`` [assumed]. A query that prints only
"not found" gives ``[]``; another ``ERROR`` → ``ParseError`` carrying the message.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Literal

from clpbackup.parsers.common import (
    FormatProblem,
    guarded,
    is_blank,
    parse_clock,
    parse_local_date,
    parse_local_datetime,
    split_blocks,
    split_lines,
)

__all__ = [
    "FIELD_COUNT",
    "Layout",
    "ScheduledTask",
    "SchtasksMessage",
    "SchtasksOutcome",
    "TaskTrigger",
    "parse_create_output",
    "parse_delete_output",
    "parse_end_output",
    "parse_query_csv",
    "parse_query_list",
    "parse_query_xml",
    "parse_run_output",
]

Layout = Literal["v1", "v2"]
"""``v1``: Task Scheduler 1.0 column set (2003). ``v2``: Task Scheduler 2.0 (2008 and later)."""

FIELD_COUNT = 28
"""Fields per ``/v`` record in both column sets."""

TriggerKind = Literal[
    "daily", "weekly", "monthly", "once", "onstart", "onlogon", "onidle", "onevent", "other"
]
TaskState = Literal["ready", "running", "disabled", "queued", "could_not_start", "unknown"]


@dataclass(frozen=True)
class TaskTrigger:
    """One trigger (schedule) of a task.

    ``kind`` is normalised from the schedule type (or the XML element); ``schedule_type`` is the
    raw text. ``days``/``months`` are raw (localized) text; ``days_of_week`` is filled from XML only
    (``MON`` … ``SUN``). ``start_date`` and ``start_time`` are node-local.
    """

    kind: TriggerKind
    schedule_type: str | None
    start_time: time | None
    start_date: date | None
    days: str | None = None
    months: str | None = None
    days_of_week: tuple[str, ...] = ()
    repeat_every: str | None = None
    enabled: bool | None = None


@dataclass(frozen=True)
class ScheduledTask:
    """A scheduled task as ``schtasks /query`` shows it (triggers of repeated records merged).

    ``name`` has no leading ``\\`` (``clpbackup-prod-db-local-daily``, ``Folder\\Task``). Times are
    node-local naive datetimes; ``None`` for "never"/"N/A" markers and for values XML does not
    carry. ``status`` is the raw text, ``state`` its normalised form. ``enabled`` comes from
    "Scheduled Task State" (or ``Settings/Enabled`` in XML). ``command``/``arguments`` are filled
    from XML; ``task_to_run`` always (XML: command and arguments joined by a space).
    """

    name: str
    host: str | None
    next_run: datetime | None
    status: str | None
    state: TaskState
    last_run: datetime | None
    last_result: int | None
    author: str | None
    task_to_run: str | None
    run_as_user: str | None
    enabled: bool | None
    triggers: tuple[TaskTrigger, ...]
    start_in: str | None = None
    comment: str | None = None
    command: str | None = None
    arguments: str | None = None
    next_run_text: str | None = None
    last_run_text: str | None = None

    @property
    def schedule_type(self) -> str | None:
        """Raw schedule type of the first trigger."""
        return self.triggers[0].schedule_type if self.triggers else None

    @property
    def kind(self) -> TriggerKind | None:
        """Normalised kind of the first trigger."""
        return self.triggers[0].kind if self.triggers else None

    @property
    def start_time(self) -> time | None:
        """Start time of the first trigger."""
        return self.triggers[0].start_time if self.triggers else None

    @property
    def days(self) -> str | None:
        """Raw "Days" of the first trigger."""
        return self.triggers[0].days if self.triggers else None


@dataclass(frozen=True)
class SchtasksMessage:
    """One ``SUCCESS:`` / ``ERROR:`` / ``WARNING:`` / ``INFO:`` message (prefix removed)."""

    level: Literal["success", "error", "warning", "info"]
    text: str


@dataclass(frozen=True)
class SchtasksOutcome:
    """What ``schtasks /create|/run|/delete|/end`` printed.

    ``ok``: a success message and no error. ``not_found``: an error or info says the task does not
    exist. ``tr_too_long``: the ``/TR`` value exceeded 261 characters. ``task_name``: the first
    quoted name in the messages.
    """

    action: Literal["create", "run", "delete", "end"]
    ok: bool
    messages: tuple[SchtasksMessage, ...]
    not_found: bool
    tr_too_long: bool
    task_name: str | None

    @property
    def errors(self) -> tuple[str, ...]:
        """Texts of the error messages."""
        return tuple(m.text for m in self.messages if m.level == "error")


# --------------------------------------------------------------------------------------------
# field positions

_V2 = {
    "host": 0, "name": 1, "next_run": 2, "status": 3, "last_run": 5, "last_result": 6, "author": 7,
    "task_to_run": 8, "start_in": 9, "comment": 10, "task_state": 11, "run_as": 14,
    "schedule_type": 18, "start_time": 19, "start_date": 20, "days": 22, "months": 23,
    "repeat_every": 24,
}
_V1 = {
    "host": 0, "name": 1, "next_run": 2, "status": 3, "last_run": 5, "last_result": 6, "author": 7,
    "task_to_run": 9, "start_in": 10, "comment": 11, "task_state": 12, "run_as": 19,
    "schedule_type": 13, "start_time": 14, "start_date": 15, "days": 17, "months": 18,
    "repeat_every": 22,
}

_HEADERS: dict[Layout, list[list[str]]] = {
    "v2": [
        ["HostName", "TaskName", "Next Run Time", "Status", "Logon Mode", "Last Run Time", "Last Result",
         "Author", "Task To Run", "Start In", "Comment", "Scheduled Task State", "Idle Time",
         "Power Management", "Run As User", "Delete Task If Not Rescheduled",
         "Stop Task If Runs X Hours and X Mins", "Schedule", "Schedule Type", "Start Time",
         "Start Date", "End Date", "Days", "Months", "Repeat: Every", "Repeat: Until: Time",
         "Repeat: Until: Duration", "Repeat: Stop If Still Running"],
        ["ホスト名", "タスク名", "次回の実行時刻", "状態", "ログオン モード", "前回の実行時刻", "前回の結果",
         "作成者", "実行するタスク", "開始", "コメント", "スケジュールされたタスクの状態", "アイドル時間",
         "電源管理", "ユーザーとして実行", "再度スケジュールされない場合はタスクを削除する",
         "タスクを停止するまでの時間", "スケジュール", "スケジュールの種類", "開始時刻", "開始日",
         "終了日", "日", "月", "繰り返し: 間隔", "繰り返し: 終了時刻", "繰り返し: 期間",
         "繰り返し: 実行中の場合は停止"],
    ],
    "v1": [
        ["HostName", "TaskName", "Next Run Time", "Status", "Logon Mode", "Last Run Time", "Last Result",
         "Creator", "Schedule", "Task To Run", "Start In", "Comment", "Scheduled Task State",
         "Scheduled Type", "Start Time", "Start Date", "End Date", "Days", "Months", "Run As User",
         "Delete Task If Not Rescheduled", "Stop Task If Runs X Hours and X Mins", "Repeat: Every",
         "Repeat: Until: Time", "Repeat: Until: Duration", "Repeat: Stop If Still Running",
         "Idle Time", "Power Management"],
        # [assumed] 2003 ja-JP: the v2 words in the v1 order.
        ["ホスト名", "タスク名", "次回の実行時刻", "状態", "ログオン モード", "前回の実行時刻", "前回の結果",
         "作成者", "スケジュール", "実行するタスク", "開始", "コメント", "スケジュールされたタスクの状態",
         "スケジュールの種類", "開始時刻", "開始日", "終了日", "日", "月", "ユーザーとして実行",
         "再度スケジュールされない場合はタスクを削除する", "タスクを停止するまでの時間",
         "繰り返し: 間隔", "繰り返し: 終了時刻", "繰り返し: 期間", "繰り返し: 実行中の場合は停止",
         "アイドル時間", "電源管理"],
    ],
}


def _norm_key(key: str) -> str:
    return re.sub(r"[\s:：]+", "", key).casefold()


_HEADER_KEYS = {
    layout: [[_norm_key(k) for k in header] for header in headers] for layout, headers in _HEADERS.items()
}


def _header_layout(keys: list[str]) -> Layout | None:
    """The layout whose known header matches ``keys`` in at least 20 of 28 positions."""
    normal = [_norm_key(k) for k in keys]
    for layout, headers in _HEADER_KEYS.items():
        for header in headers:
            if sum(a == b for a, b in zip(normal, header, strict=False)) >= 20:
                return layout
    return None


# --------------------------------------------------------------------------------------------
# values

_NEVER_DATE = date(1999, 11, 30)
_INTLIKE = re.compile(r"^\s*(-?\d+|0[xX][0-9A-Fa-f]+)\s*$")


def _opt(value: str) -> str | None:
    value = value.strip()
    return None if not value or value.upper() == "N/A" else value


def _when(value: str, field: str) -> datetime | None:
    stripped = value.strip()
    try:
        moment = parse_local_datetime(stripped)
    except FormatProblem as exc:
        raise FormatProblem(f"{field}: {exc.reason}") from None
    if moment is None and stripped[:1].isdigit() and parse_clock(stripped) is None:
        raise FormatProblem(f"{field} {stripped!r} starts like a date but is not one")
    if moment is not None and moment.date() == _NEVER_DATE:
        return None  # Task Scheduler's "never ran" date
    return moment


def _result(value: str) -> int | None:
    match = _INTLIKE.match(value)
    if match is None:
        stripped = value.strip()
        if stripped[:1].isdigit():
            raise FormatProblem(f"last result {stripped!r} is not a number")
        return None
    number = match.group(1)
    return int(number, 16) if number.lower().startswith("0x") else int(number)


def _clock(value: str, field: str) -> time | None:
    stripped = value.strip()
    try:
        found = parse_clock(stripped)
    except FormatProblem as exc:
        raise FormatProblem(f"{field}: {exc.reason}") from None
    if found is None and stripped[:1].isdigit():
        raise FormatProblem(f"{field} {stripped!r} is not a time")
    return found


def _day(value: str, field: str) -> date | None:
    stripped = value.strip()
    try:
        found = parse_local_date(stripped)
    except FormatProblem as exc:
        raise FormatProblem(f"{field}: {exc.reason}") from None
    if found is None and stripped[:1].isdigit():
        raise FormatProblem(f"{field} {stripped!r} is not a date")
    return found


#: The Status words of a running task (en-US, ja-JP); nodestate's LIVE-1 guard looks for them too.
RUNNING_WORDS: tuple[str, ...] = ("running", "実行中")

_STATES: list[tuple[TaskState, tuple[str, ...]]] = [
    ("could_not_start", ("could not start", "開始できません")),
    ("running", RUNNING_WORDS),
    ("disabled", ("disabled", "無効")),
    ("queued", ("queued", "キュー")),
    ("ready", ("ready", "準備完了")),
]


def _state(status: str) -> TaskState:
    lowered = status.strip().casefold()
    if not lowered:
        return "ready"  # 2003 leaves Status empty for an idle task
    for state, words in _STATES:
        if any(word in lowered for word in words):
            return state
    return "unknown"


def _enabled(value: str) -> bool | None:
    lowered = value.strip().casefold()
    if lowered in ("enabled", "有効"):
        return True
    if lowered in ("disabled", "無効"):
        return False
    return None


_KINDS: list[tuple[TriggerKind, tuple[str, ...]]] = [
    ("daily", ("daily", "毎日")),
    ("weekly", ("weekly", "毎週")),
    ("monthly", ("monthly", "毎月")),
    ("once", ("one time", "once", "1 回", "1回", "一回", "一度")),
    ("onstart", ("start up", "startup", "起動時")),
    ("onlogon", ("logon", "ログオン")),
    ("onidle", ("idle", "アイドル")),
    ("onevent", ("event", "イベント")),
]


def _kind(schedule_type: str) -> TriggerKind:
    lowered = schedule_type.casefold()
    for kind, words in _KINDS:
        if any(word in lowered for word in words):
            return kind
    return "other"


def _task_name(raw: str) -> str:
    return raw.strip().lstrip("\\")


def _record_to_task(row: list[str], layout: Layout) -> ScheduledTask:
    pos = _V2 if layout == "v2" else _V1
    name = _task_name(row[pos["name"]])
    if not name:
        raise FormatProblem("a record has an empty task name")
    schedule_type = _opt(row[pos["schedule_type"]])
    trigger = TaskTrigger(
        kind=_kind(schedule_type) if schedule_type else "other",
        schedule_type=schedule_type,
        start_time=_clock(row[pos["start_time"]], "start time"),
        start_date=_day(row[pos["start_date"]], "start date"),
        days=_opt(row[pos["days"]]),
        months=_opt(row[pos["months"]]),
        repeat_every=_opt(row[pos["repeat_every"]]),
    )
    status = row[pos["status"]].strip()
    return ScheduledTask(
        name=name,
        host=_opt(row[pos["host"]]),
        next_run=_when(row[pos["next_run"]], "next run time"),
        status=status or None,
        state=_state(status),
        last_run=_when(row[pos["last_run"]], "last run time"),
        last_result=_result(row[pos["last_result"]]),
        author=_opt(row[pos["author"]]),
        task_to_run=_opt(row[pos["task_to_run"]]),
        run_as_user=_opt(row[pos["run_as"]]),
        enabled=_enabled(row[pos["task_state"]]),
        triggers=(trigger,),
        start_in=_opt(row[pos["start_in"]]),
        comment=_opt(row[pos["comment"]]),
        next_run_text=_opt(row[pos["next_run"]]),
        last_run_text=_opt(row[pos["last_run"]]),
    )


def _merge(tasks: list[ScheduledTask]) -> list[ScheduledTask]:
    """Merge the per-trigger records of one task (same name) in printed order."""
    merged: dict[str, ScheduledTask] = {}
    for task in tasks:
        first = merged.get(task.name.casefold())
        if first is None:
            merged[task.name.casefold()] = task
        else:
            merged[task.name.casefold()] = _replace_triggers(first, first.triggers + task.triggers)
    return list(merged.values())


def _replace_triggers(task: ScheduledTask, triggers: tuple[TaskTrigger, ...]) -> ScheduledTask:
    return replace(task, triggers=triggers)


def _detect_layout(rows: list[list[str]], header: list[str] | None) -> Layout:
    if header is not None:
        found = _header_layout(header)
        if found is not None:
            return found
    names = [row[1].strip() for row in rows if row[1].strip()]
    if names and all(name.startswith("\\") for name in names):
        return "v2"
    if names and not any(name.startswith("\\") for name in names):
        return "v1"
    raise FormatProblem("cannot tell the 2003 column set from the 2008+ one; pass layout='v1' or 'v2'")


# --------------------------------------------------------------------------------------------
# messages shared by query and actions

_MESSAGE = re.compile(
    r"^\s*(?P<prefix>SUCCESS|ERROR|WARNING|INFO|成功|エラー|警告|情報)\s*[:：]\s*(?P<text>.*?)\s*$",
    re.IGNORECASE,
)
_LEVELS: dict[str, Literal["success", "error", "warning", "info"]] = {
    "success": "success", "成功": "success", "error": "error", "エラー": "error",
    "warning": "warning", "警告": "warning", "info": "info", "情報": "info",
}
_NOT_FOUND = re.compile(
    r"cannot find the file specified|does not exist in the system|no matching tasks"
    r"|指定されたファイルが見つかりません|システムに存在しません|一致するタスクが見つかりません",
    re.IGNORECASE,
)
_NO_TASKS = re.compile(
    r"no scheduled tasks|no matching tasks|スケジュール タスクはありません|タスクはありません"
    r"|一致するタスクが見つかりません",
    re.IGNORECASE,
)


def _messages(lines: list[str]) -> list[SchtasksMessage]:
    found: list[SchtasksMessage] = []
    for line in lines:
        match = _MESSAGE.match(line)
        if match:
            found.append(SchtasksMessage(_LEVELS[match["prefix"].casefold()], match["text"]))
        elif found and not is_blank(line):
            last = found[-1]
            found[-1] = SchtasksMessage(last.level, f"{last.text} {line.strip()}".strip())
    return found


def _query_messages_only(lines: list[str]) -> list[ScheduledTask]:
    """Output made only of messages: "not found" / "no tasks" → []; an error → FormatProblem."""
    for message in _messages(lines):
        if message.level == "error" and not _NOT_FOUND.search(message.text):
            raise FormatProblem(f"schtasks reported an error: {message.text}")
        if message.level == "warning":
            raise FormatProblem(f"schtasks printed a warning instead of tasks: {message.text}")
    return []


# --------------------------------------------------------------------------------------------
# CSV

_DATEISH = re.compile(r"\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}|\d{1,2}:\d{2}")


def _looks_like_header(row: list[str]) -> bool:
    """A header row: a known header, or no number in "Last Result" and no date or time anywhere.

    Keeps the first data row of ``/nh`` output (no header) from being taken for a header.
    """
    if _INTLIKE.match(row[6]):
        return False
    return _header_layout(row) is not None or not any(_DATEISH.search(value) for value in row)


@guarded("schtasks /query /fo csv /v")
def parse_query_csv(text: str, *, layout: Layout | None = None) -> list[ScheduledTask]:
    """Parse ``schtasks /query /fo csv /v`` (2003 or 2008+, en-US or ja-JP) into tasks.

    Fields are taken by position (see the module docstring); repeated header rows are dropped and
    the records of one task (one per trigger) merged. ``layout`` forces the column set (``v1`` for
    2003, ``v2`` for 2008+); by default it is detected. Output that holds only "no tasks" / "not
    found" messages gives ``[]``.
    """
    lines = split_lines(text)
    content = [line for line in lines if not is_blank(line)]
    if not content:
        raise FormatProblem("the output is empty")
    if all(_MESSAGE.match(line) for line in content):
        return _query_messages_only(content)
    try:
        rows = [row for row in csv.reader(io.StringIO("\n".join(content))) if any(f.strip() for f in row)]
    except csv.Error as exc:
        raise FormatProblem(f"not CSV: {exc}") from None
    header: list[str] | None = None
    records: list[list[str]] = []
    for row in rows:
        if len(row) != FIELD_COUNT:
            if len(row) == 1 and _MESSAGE.match(row[0]):
                continue  # e.g. an INFO line for an empty folder
            raise FormatProblem(f"a CSV row has {len(row)} fields, expected {FIELD_COUNT}")
        if header is None and not records and _looks_like_header(row):
            header = row
            continue
        if row == header or (header is not None and _looks_like_header(row)):
            continue  # the header repeated for the next folder
        records.append(row)
    if not records:
        return []
    chosen = layout or _detect_layout(records, header)
    return _merge([_record_to_task(row, chosen) for row in records])


# --------------------------------------------------------------------------------------------
# LIST

_CANDIDATE = re.compile(r"[:：]\s+")


def _split_list_block(block: list[str]) -> list[tuple[str, str]]:
    """Split the ``key: value`` lines of one LIST record at their common value column."""
    starts: Counter[int] = Counter()
    for line in block:
        for found in _CANDIDATE.finditer(line):
            starts[found.end()] += 1
    column = starts.most_common(1)[0][0] if starts else -1
    pairs: list[tuple[str, str]] = []
    for line in block:
        head = line[:column].rstrip() if column > 0 and len(line) >= column else ""
        if head.endswith((":", "：")) and (len(line) == column or line[column - 1].isspace()):
            pairs.append((head[:-1].strip(), line[column:].strip()))
        elif line.rstrip().endswith((":", "：")):
            pairs.append((line.rstrip()[:-1].strip(), ""))  # empty value
        else:
            padded = [m for m in _CANDIDATE.finditer(line) if len(m.group(0)) >= 3]
            split = padded[-1] if padded else _CANDIDATE.search(line)
            if split is None:
                raise FormatProblem(f"a LIST line has no 'key: value' shape: {line.strip()!r}")
            pairs.append((line[: split.start()].strip(), line[split.end():].strip()))
    return pairs


@guarded("schtasks /query /fo list /v")
def parse_query_list(text: str, *, layout: Layout | None = None) -> list[ScheduledTask]:
    """Parse ``schtasks /query /fo list /v`` (2003 or 2008+, en-US or ja-JP) into tasks.

    Each record must have 28 ``key: value`` lines (29 with the ``Folder:`` line that opens a
    folder on 2008+); values are taken by position. See :func:`parse_query_csv` for ``layout``.
    """
    lines = split_lines(text)
    content = [line for line in lines if not is_blank(line)]
    if not content:
        raise FormatProblem("the output is empty")
    if all(_MESSAGE.match(line) for line in content):
        return _query_messages_only(content)
    records: list[list[str]] = []
    keys: list[str] | None = None
    for block in split_blocks(lines):
        body = [line for line in block if not _MESSAGE.match(line)]
        if not body:
            continue
        pairs = _split_list_block(body)
        if len(pairs) == FIELD_COUNT + 1:
            pairs = pairs[1:]  # "Folder: \..." opens the folder
        elif len(pairs) == 1 and pairs[0][1].startswith("\\"):
            continue  # a folder line alone (its tasks follow, or it is empty)
        if len(pairs) != FIELD_COUNT:
            raise FormatProblem(f"a LIST record has {len(pairs)} lines, expected {FIELD_COUNT}")
        if keys is None:
            keys = [key for key, _ in pairs]
        records.append([value for _, value in pairs])
    if not records:
        return []
    chosen = layout or _detect_layout(records, keys)
    return _merge([_record_to_task(row, chosen) for row in records])


# --------------------------------------------------------------------------------------------
# XML

_WELL_KNOWN_SIDS = {"S-1-5-18": "SYSTEM", "S-1-5-19": "LOCAL SERVICE", "S-1-5-20": "NETWORK SERVICE"}
_SIMPLE_TRIGGERS: dict[str, TriggerKind] = {
    "BootTrigger": "onstart", "LogonTrigger": "onlogon", "IdleTrigger": "onidle", "EventTrigger": "onevent",
}
_DAY_NAMES = {
    "Monday": "MON", "Tuesday": "TUE", "Wednesday": "WED", "Thursday": "THU",
    "Friday": "FRI", "Saturday": "SAT", "Sunday": "SUN",
}


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: ET.Element | None, *path: str) -> ET.Element | None:
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if _local(c.tag) == name), None)
    return element


def _text(element: ET.Element | None, *path: str) -> str | None:
    found = _child(element, *path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _xml_bool(value: str | None) -> bool | None:
    if value is None:
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise FormatProblem(f"{value!r} is not an XML boolean")


def _boundary(value: str | None) -> datetime | None:
    if value is None:
        return None
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?", value)
    if match is None:
        raise FormatProblem(f"StartBoundary {value!r} is not an ISO date-time")
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)  # node-local; any offset is ignored
    except ValueError:
        raise FormatProblem(f"StartBoundary {value!r} is not a valid date-time") from None


def _xml_trigger(element: ET.Element) -> TaskTrigger:
    tag = _local(element.tag)
    kind: TriggerKind
    days: str | None = None
    days_of_week: tuple[str, ...] = ()
    if tag == "TimeTrigger":
        kind = "once"
    elif tag == "CalendarTrigger":
        by_day = _child(element, "ScheduleByDay")
        by_week = _child(element, "ScheduleByWeek")
        if by_day is not None:
            kind = "daily"
            days = _text(by_day, "DaysInterval")
        elif by_week is not None:
            kind = "weekly"
            week_days = _child(by_week, "DaysOfWeek")
            if week_days is not None:
                days_of_week = tuple(
                    _DAY_NAMES[_local(d.tag)] for d in week_days if _local(d.tag) in _DAY_NAMES
                )
        elif _child(element, "ScheduleByMonth") is not None or _child(
            element, "ScheduleByMonthDayOfWeek"
        ) is not None:
            kind = "monthly"
        else:
            kind = "other"
    else:
        kind = _SIMPLE_TRIGGERS.get(tag, "other")
    start = _boundary(_text(element, "StartBoundary"))
    return TaskTrigger(
        kind=kind,
        schedule_type=tag,
        start_time=start.time() if start else None,
        start_date=start.date() if start else None,
        days=days,
        days_of_week=days_of_week,
        repeat_every=_text(element, "Repetition", "Interval"),
        enabled=_xml_bool(_text(element, "Enabled")),
    )


def _xml_task(element: ET.Element, name: str | None) -> ScheduledTask:
    uri = _text(element, "RegistrationInfo", "URI")
    chosen = _task_name(name or uri or "")
    if not chosen:
        raise FormatProblem("the task's name is neither in the XML (URI, comment) nor given")
    principal = _child(element, "Principals", "Principal")
    user = _text(principal, "UserId") or _text(principal, "GroupId")
    exec_action = _child(element, "Actions", "Exec")
    command = _text(exec_action, "Command")
    arguments = _text(exec_action, "Arguments")
    triggers_el = _child(element, "Triggers")
    triggers = tuple(_xml_trigger(t) for t in triggers_el) if triggers_el is not None else ()
    enabled = _xml_bool(_text(element, "Settings", "Enabled"))
    return ScheduledTask(
        name=chosen,
        host=None,
        next_run=None,
        status=None,
        state="disabled" if enabled is False else "unknown",
        last_run=None,
        last_result=None,
        author=_text(element, "RegistrationInfo", "Author"),
        task_to_run=" ".join(p for p in (command, arguments) if p) or None,
        run_as_user=_WELL_KNOWN_SIDS.get(user or "", user),
        enabled=True if enabled is None else enabled,  # Settings/Enabled defaults to true
        triggers=triggers,
        start_in=_text(exec_action, "WorkingDirectory"),
        comment=_text(element, "RegistrationInfo", "Description"),
        command=command,
        arguments=arguments,
    )


@guarded("schtasks /query /xml")
def parse_query_xml(text: str, *, name: str | None = None) -> list[ScheduledTask]:
    """Parse Task Scheduler 2.0 XML (``schtasks /query /xml``, 2008+) into tasks.

    ``name`` names the task of a single-``<Task>`` document whose XML has no ``URI``. A document
    type declaration or entity is refused (it never occurs in schtasks output).
    """
    body = text.lstrip("\ufeff").strip()
    if not body:
        raise FormatProblem("the output is empty")
    if not body.startswith("<"):
        content = [line for line in split_lines(body) if not is_blank(line)]
        if not all(_MESSAGE.match(line) for line in content):
            raise FormatProblem("neither XML nor a schtasks message")
        return _query_messages_only(content)
    if re.search(r"<!DOCTYPE|<!ENTITY", body, re.IGNORECASE):
        raise FormatProblem("the XML declares a DOCTYPE or ENTITY, which schtasks never prints")
    try:
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))  # noqa: S314
        parser.feed(body)
        root = parser.close()
    except ET.ParseError as exc:
        raise FormatProblem(f"not well-formed XML: {exc}") from None
    tag = _local(root.tag)
    if tag == "Task":
        return [_xml_task(root, name)]
    if tag != "Tasks":
        raise FormatProblem(f"the XML root is <{tag}>, expected <Task> or <Tasks>")
    tasks: list[ScheduledTask] = []
    pending: str | None = None
    for child in root:
        if not isinstance(child.tag, str):  # ET.Comment: the "<!-- \\name -->" before a task
            pending = (child.text or "").strip() or None
        elif _local(child.tag) == "Task":
            tasks.append(_xml_task(child, pending))
            pending = None
    return tasks


# --------------------------------------------------------------------------------------------
# /create /run /delete /end

_QUOTED = re.compile(r"\"([^\"]+)\"")
_TR_LIMIT = re.compile(r"/TR.*261|261.*/TR", re.IGNORECASE)


def _outcome(text: str, action: Literal["create", "run", "delete", "end"]) -> SchtasksOutcome:
    messages = _messages(split_lines(text))
    if not messages:
        raise FormatProblem("no SUCCESS/ERROR/WARNING/INFO message (en-US or ja-JP) was found")
    errors = [m for m in messages if m.level == "error"]
    name = next((q.group(1) for m in messages for q in [_QUOTED.search(m.text)] if q), None)
    return SchtasksOutcome(
        action=action,
        ok=any(m.level == "success" for m in messages) and not errors,
        messages=tuple(messages),
        not_found=any(m.level in ("error", "info") and _NOT_FOUND.search(m.text) for m in messages),
        tr_too_long=any(_TR_LIMIT.search(m.text) for m in errors),
        task_name=name,
    )


@guarded("schtasks /create")
def parse_create_output(text: str) -> SchtasksOutcome:
    """Parse what ``schtasks /create`` printed (stdout and stderr together are fine)."""
    return _outcome(text, "create")


@guarded("schtasks /run")
def parse_run_output(text: str) -> SchtasksOutcome:
    """Parse what ``schtasks /run`` printed. ``ok`` means the start was attempted, not that it ran."""
    return _outcome(text, "run")


@guarded("schtasks /delete")
def parse_delete_output(text: str) -> SchtasksOutcome:
    """Parse what ``schtasks /delete /f`` printed; ``not_found`` for a task that does not exist."""
    return _outcome(text, "delete")


@guarded("schtasks /end")
def parse_end_output(text: str) -> SchtasksOutcome:
    """Parse what ``schtasks /end`` printed."""
    return _outcome(text, "end")
