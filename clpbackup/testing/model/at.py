"""The AT command (``at.exe``) of a simulated node.

Jobs have numeric ids (1, 2, …), run as SYSTEM, need the Schedule service running (else the real
"The service has not been started." error), and live in the node's Task Scheduler store as ``At<N>``
tasks, so ``schtasks /Query`` lists them too. On 2012 and 2012 R2 every invocation first prints the
deprecation banner and still works; from 2016 on it prints the banner and refuses the request.

Forms: ``at`` (list), ``at <id>`` (one job), ``at <id> /delete [/yes]``, ``at /delete /yes`` (all),
``at [\\\\computer] <time> [/interactive] [/every:<days> | /next:<days>] <command>``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from clpbackup.testing.model.base import Proc, ToolResult, lines
from clpbackup.testing.model.taskscheduler import Task, weekday_index

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.testing.model.node import SimulatedWindows


def _tokens(text: str) -> list[tuple[str, int, int]]:
    """Blank-separated tokens with their spans (quotes kept inside a token)."""
    out: list[tuple[str, int, int]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            break
        start = i
        quoted = False
        while i < n and (quoted or text[i] not in " \t"):
            if text[i] == '"':
                quoted = not quoted
            i += 1
        out.append((text[start:i], start, i))
    return out


def _parse_time(text: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm]?)?", text)
    if not m:
        return None
    h, mi = int(m.group(1)), int(m.group(2))
    ampm = (m.group(4) or "").upper()
    if ampm:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if ampm.startswith("P") else 0)
    if h > 23 or mi > 59:
        return None
    return h, mi


def at_command(node: SimulatedWindows, proc: Proc, tail: str) -> ToolResult:
    """Run ``at`` with the raw argument text ``tail``."""
    banner = lines(node.texts.t("at.deprecated"), "") if node.family == "2012" else ""
    if node.personality.at_refuses:
        # 2016 on: the notice, then every request is refused (unless EnableAt is set, which the
        # model does not offer); nothing is created (docs/windows-facts.md, "Newer Windows")
        return ToolResult(1, banner, lines(node.texts.t("at.not_supported")))
    result = _at(node, proc, tail)
    return ToolResult(result.rc, banner + result.out, result.err)


def _at(node: SimulatedWindows, proc: Proc, tail: str) -> ToolResult:
    t = node.texts
    toks = _tokens(tail)
    if toks and toks[0][0].startswith("\\\\"):
        if toks[0][0].strip("\\").lower() not in (node.hostname.lower(), node.name.lower()):
            return node.not_simulated_result("at \\\\<another computer>")
        toks = toks[1:]
    if not node.schedule_running:
        return ToolResult(1, err=lines(t.t("at.not_started")))
    sched = node.scheduler
    words = [x[0] for x in toks]
    low = [w.lower() for w in words]
    if not words:
        return ToolResult(0, _listing(node))
    if words[0].isdigit():
        job = _job(node, int(words[0]))
        rest = low[1:]
        if not rest:
            if job is None:
                return ToolResult(1, err=lines(t.t("at.no_id")))
            return ToolResult(0, _view(node, job))
        if rest[0] == "/delete" and all(r == "/yes" for r in rest[1:]):
            if job is None:
                return ToolResult(1, err=lines(t.t("at.no_id")))
            sched.remove(job.name)
            return ToolResult(0)
        return ToolResult(1, err=lines(t.t("at.usage")))
    if low[0] == "/delete":
        if low[1:] == ["/yes"]:
            for task in [x for x in sched.tasks.values() if x.at_id is not None]:
                sched.remove(task.name)
            return ToolResult(0)
        if not low[1:]:
            node.record_not_simulated("at /delete without /yes asks (Y/N) on the console")
            return ToolResult(1, lines(t.t("at.delete_all_prompt")))
        return ToolResult(1, err=lines(t.t("at.usage")))
    hm = _parse_time(words[0])
    if hm is None:
        return ToolResult(1, err=lines(t.t("at.usage")))
    i = 1
    interactive = False
    every: list[str] | None = None
    nxt: list[str] | None = None
    while i < len(toks) and toks[i][0].startswith("/"):
        w = toks[i][0].lower()
        if w == "/interactive":
            interactive = True
        elif w.startswith("/every:"):
            every = [d for d in toks[i][0][7:].split(",") if d]
        elif w.startswith("/next:"):
            nxt = [d for d in toks[i][0][6:].split(",") if d]
        else:
            break
        i += 1
    if i >= len(toks):
        return ToolResult(1, err=lines(t.t("at.usage")))
    command = tail[toks[i][1] :].strip()
    now = node.time.local()
    when = now.replace(hour=hm[0], minute=hm[1], second=0, microsecond=0)
    weekdays: list[int] = []
    monthdays: list[int] = []
    for spec in every or nxt or []:
        if spec.isdigit() and 1 <= int(spec) <= 31:
            monthdays.append(int(spec))
            continue
        wd = weekday_index(spec)
        if wd is None:
            return ToolResult(1, err=lines(t.t("at.usage")))
        weekdays.append(wd)
    if weekdays and monthdays:
        return node.not_simulated_result("at /every or /next mixing weekdays and days of the month")
    existing = [x.at_id for x in sched.tasks.values() if x.at_id is not None]
    job_id = max(existing) + 1 if existing else 1
    task = Task(
        name=f"At{job_id}",
        run=command,
        kind="ONCE",
        start=when,
        run_as="SYSTEM",
        author=proc.user,
        at_id=job_id,
        at_interactive=interactive,
        registered=now,
        fired_until=now,
    )
    if every is not None:
        task.kind = "MONTHLY" if monthdays else "WEEKLY"
        task.weekdays = tuple(sorted(set(weekdays)))
        task.monthdays = tuple(sorted(set(monthdays)))
        # The first run may be today when the time is still ahead; next_run picks the days.
        task.start = datetime.combine(now.date(), when.time())
    elif nxt is not None:
        task.at_next = True
        task.once_times = _next_dates(now, when, weekdays, monthdays)
        task.weekdays = tuple(sorted(set(weekdays)))
        task.monthdays = tuple(sorted(set(monthdays)))
        task.kind = "MONTHLY" if monthdays else "WEEKLY"
    else:
        first = when if when > now else when + timedelta(days=1)
        task.start = first
        task.once_times = [first]
    sched.add(task)
    return ToolResult(0, lines(t.t("at.added", id=job_id)))


def _next_dates(now: datetime, when: datetime, weekdays: list[int], monthdays: list[int]) -> list[datetime]:
    out: list[datetime] = []
    for k in range(0, 62):
        day = now.date() + timedelta(days=k)
        cand = datetime.combine(day, when.time())
        if cand <= now:
            continue
        if weekdays and day.weekday() in weekdays and all(d.weekday() != day.weekday() for d in out):
            out.append(cand)
        if monthdays and day.day in monthdays and all(d.day != day.day for d in out):
            out.append(cand)
    return out


def _job(node: SimulatedWindows, job_id: int) -> Task | None:
    for task in node.scheduler.tasks.values():
        if task.at_id == job_id:
            return task
    return None


def _day_text(node: SimulatedWindows, task: Task) -> str:
    t = node.texts
    names = t.t("at.days").split()
    if task.kind == "WEEKLY" or task.kind == "MONTHLY":
        items = [names[d] for d in task.weekdays] + [str(d) for d in task.monthdays]
        word = t.t("at.next") if task.at_next else t.t("at.each_month" if task.monthdays else "at.each")
        return f"{word} {' '.join(items)}"
    first = min(task.once_times) if task.once_times else task.start
    today = node.time.local().date()
    if first.date() == today:
        return t.t("at.today")
    if first.date() == today + timedelta(days=1):
        return t.t("at.tomorrow")
    return t.short_date(first)


def _status(node: SimulatedWindows, task: Task) -> str:
    if task.last_result not in (None, 0):
        return node.texts.t("at.error_status")
    return ""


def _listing(node: SimulatedWindows) -> str:
    t = node.texts
    jobs = sorted(
        (x for x in node.scheduler.tasks.values() if x.at_id is not None), key=lambda x: x.at_id or 0
    )
    if not jobs:
        return lines(t.t("at.empty"))
    out = [t.t("at.header"), "-" * 79]
    for job in jobs:
        status = _status(node, job)
        ident = f" {job.at_id}"
        time_s = t.short_time(job.start)
        out.append(f"{status:<7}{ident:<5}{_day_text(node, job):<24}{time_s:<14}{job.run}")
    return lines(*out)


def _view(node: SimulatedWindows, job: Task) -> str:
    t = node.texts
    return lines(
        t.t(
            "at.view",
            id=job.at_id,
            status=_status(node, job) or t.t("at.ok"),
            schedule=_day_text(node, job),
            time=t.short_time(job.start),
            interactive=t.t("at.yes") if job.at_interactive else t.t("at.no"),
            command=job.run,
        )
    )
