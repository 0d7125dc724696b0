"""Task Scheduler of a simulated node and its command-line tool ``schtasks``.

Modelled: ``/Create`` (``/SC ONCE`` and ``/SC DAILY [/MO n]``, ``/TN /TR /ST /SD /RU /RP /RL /F /Z /IT
/V1 /NP``), ``/Query`` (``/FO TABLE|LIST|CSV``, ``/V``, ``/NH``; ``/TN`` and ``/XML [ONE]`` on 2008+),
``/Delete /TN <name> /F``, ``/Run /TN <name> [/I]``, ``/End /TN <name>``. Windows Server 2003 uses
Task Scheduler 1.0's column set and value formats; 2008 and later the 2.0 ones. AT jobs live in the
same store (``At<N>``) and show in ``schtasks /Query``.

A task's run happens when the cluster's clock passes its next run time (``SimulatedCluster.advance``)
or on ``/Run``; it runs to completion at once in model time: its ``Last Run Time`` is the start,
``Last Result`` the exit code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from clpbackup.testing.model.base import Proc, ToolResult, lines

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.testing.model.node import SimulatedWindows

HAS_NOT_RUN = 267011  # SCHED_S_TASK_HAS_NOT_RUN (0x41303), what 2008+ shows before the first run
COULD_NOT_START = -2147024894  # 0x80070002: the program to run was not found

WEEKDAYS_EN = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


@dataclass
class Task:
    """A scheduled task (or an AT job, when ``at_id`` is set).

    Times are the node's local time (naive), as Task Scheduler keeps them. ``kind``: ``ONCE``,
    ``DAILY`` (every ``interval`` days), ``WEEKLY`` (``weekdays``, 0 = Monday) or ``MONTHLY``
    (``monthdays``); ``once_times`` lists the remaining runs of an AT job without ``/every``.
    """

    name: str
    run: str
    kind: str
    start: datetime
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    monthdays: tuple[int, ...] = ()
    once_times: list[datetime] = field(default_factory=list)
    run_as: str = "SYSTEM"
    author: str = ""
    has_password: bool = False
    run_level: str = "LIMITED"
    interactive_only: bool = False
    enabled: bool = True
    delete_when_done: bool = False
    last_run: datetime | None = None
    last_result: int | None = None
    running: bool = False
    at_id: int | None = None
    at_interactive: bool = False
    at_next: bool = False
    registered: datetime | None = None
    fired_until: datetime | None = None  # local time up to which runs have been taken
    runs: list[tuple[datetime, int]] = field(default_factory=list)

    @property
    def is_system(self) -> bool:
        return self.run_as.upper() in ("SYSTEM", "NT AUTHORITY\\SYSTEM")

    @property
    def folder(self) -> str:
        head = self.name.rpartition("\\")[0]
        return "\\" + head if head else "\\"

    def next_run(self, after: datetime) -> datetime | None:
        """First run strictly after ``after`` (local), or ``None``."""
        if not self.enabled:
            return None
        if self.once_times:
            later = [t for t in self.once_times if t > after]
            return min(later) if later else None
        if self.kind == "ONCE":
            return self.start if self.start > after else None
        at = self.start.time()
        if self.kind == "DAILY":
            if after < self.start:
                return self.start
            days = (after.date() - self.start.date()).days
            k = days - days % self.interval
            cand = datetime.combine(self.start.date() + timedelta(days=k), at)
            while cand <= after:
                cand += timedelta(days=self.interval)
            return cand
        day = max(after.date(), self.start.date())
        for _ in range(400):
            cand = datetime.combine(day, at)
            if cand > after and cand >= self.start:
                if self.kind == "WEEKLY" and day.weekday() in self.weekdays:
                    return cand
                if self.kind == "MONTHLY" and day.day in self.monthdays:
                    return cand
            day += timedelta(days=1)
        return None


class TaskScheduler:
    """The node's tasks (schtasks tasks and AT jobs). Names are case-insensitive."""

    def __init__(self, node: SimulatedWindows) -> None:
        self.node = node
        self.tasks: dict[str, Task] = {}

    # -- store ---------------------------------------------------------------------------------
    @staticmethod
    def key(name: str) -> str:
        return name.strip().lstrip("\\").lower()

    def get(self, name: str) -> Task | None:
        """The task called ``name`` (with or without the leading ``\\``)."""
        return self.tasks.get(self.key(name))

    def add(self, task: Task) -> None:
        self.tasks[self.key(task.name)] = task

    def remove(self, name: str) -> Task | None:
        return self.tasks.pop(self.key(name), None)

    def visible(self) -> list[Task]:
        """Tasks in the order schtasks lists them: by folder, then by name."""
        return sorted(self.tasks.values(), key=lambda t: (t.folder.lower(), t.name.lower()))

    # -- running -------------------------------------------------------------------------------
    def due(self, end_local: datetime) -> list[tuple[datetime, Task]]:
        """Each task's next run not yet taken, when it is at or before ``end_local`` (local)."""
        out: list[tuple[datetime, Task]] = []
        for task in list(self.tasks.values()):
            after = task.fired_until or task.registered or task.start
            nxt = task.next_run(after)
            if nxt is not None and nxt <= end_local:
                out.append((nxt, task))
        return sorted(out, key=lambda item: item[0])

    def run_task(self, task: Task, when: datetime | None = None) -> int | None:
        """Run the task now (in model time) and record the result; returns the exit code.

        When backups or recoveries take model time (``node.backup_duration``,
        ``node.recovery_duration``), the run goes on in the background (the task shows Running until
        it ends) and ``None`` is returned.
        """
        node = self.node
        start = when or node.time.local()
        task.fired_until = max(task.fired_until or start, start)
        task.last_run = start
        task.running = True
        timed = node.backup_duration > 0 or node.recovery_duration > 0
        if timed and not node.in_background():
            node.background(lambda: self._finish(task, start))
            return None
        return self._finish(task, start)

    def _finish(self, task: Task, start: datetime) -> int:
        node = self.node
        try:
            rc = node.run_scheduled(task.run, user="SYSTEM" if task.is_system else task.run_as)
        finally:
            task.running = False
        task.last_result = rc
        task.runs.append((start, rc))
        if task.once_times:
            task.once_times = [t for t in task.once_times if t > start]
            if not task.once_times and task.at_id is not None:
                self.remove(task.name)
        elif task.kind == "ONCE" and task.delete_when_done:
            self.remove(task.name)
        return rc

    def register_once(self, name: str, start: datetime, run: str, *, author: str) -> Task:
        """Task Scheduler 2.0 ``RegisterTaskDefinition`` (TASK_CREATE_OR_UPDATE, as SYSTEM) of a task
        with one TimeTrigger at ``start`` (local): it runs once, then, or never if that has passed."""
        now = self.node.time.local()
        task = Task(
            name=name.lstrip("\\"),
            run=run,
            kind="ONCE",
            start=start,
            run_as="SYSTEM",
            author=author,
            registered=now,
            fired_until=now,
        )
        self.remove(name)
        self.add(task)
        return task

    # -- schtasks ------------------------------------------------------------------------------
    def schtasks(self, proc: Proc, argv: list[str]) -> ToolResult:
        """``schtasks <verb> [options]``."""
        node = self.node
        if not argv:
            return self._query(proc, [], "/QUERY")
        verb = argv[0].upper()
        if verb in ("/CREATE", "-CREATE"):
            return self._create(proc, argv[1:])
        if verb in ("/QUERY", "-QUERY"):
            return self._query(proc, argv[1:], "/QUERY")
        if verb in ("/DELETE", "-DELETE"):
            return self._delete(proc, argv[1:])
        if verb in ("/RUN", "-RUN"):
            return self._run(proc, argv[1:])
        if verb in ("/END", "-END"):
            return self._end(proc, argv[1:])
        if verb in ("/CHANGE", "-CHANGE", "/SHOWSID", "/?"):
            return node.not_simulated_result("schtasks " + " ".join(argv))
        if verb.startswith("/"):
            return self._query(proc, argv, "/QUERY")
        return self._err("schtasks.bad_option", opt=argv[0], verb="/?")

    def _err(self, key: str, rc: int = 1, **kw: object) -> ToolResult:
        return ToolResult(rc, err=lines(self.node.texts.t(key, **kw)))

    def _options(
        self, argv: list[str], verb: str, takes_value: set[str], flags: set[str]
    ) -> dict[str, str] | ToolResult:
        opts: dict[str, str] = {}
        i = 0
        while i < len(argv):
            a = argv[i]
            key = "/" + a[1:].upper() if a[:1] in "/-" else None
            if key is None:
                return self._err("schtasks.bad_option", opt=a, verb=verb)
            if key in flags:
                opts[key] = ""
                i += 1
                continue
            if key in takes_value:
                if i + 1 >= len(argv):
                    return self._err("schtasks.bad_value", opt=a)
                if key in opts:
                    return self._err("schtasks.bad_option", opt=a, verb=verb)
                opts[key] = argv[i + 1]
                i += 2
                continue
            return self._err("schtasks.bad_option", opt=a, verb=verb)
        return opts

    def _create(self, proc: Proc, argv: list[str]) -> ToolResult:
        node = self.node
        t = node.texts
        modern = node.os != "2003"
        values = {
            "/SC",
            "/TN",
            "/TR",
            "/ST",
            "/SD",
            "/RU",
            "/RP",
            "/MO",
            "/ED",
            "/ET",
            "/DU",
            "/D",
            "/M",
            "/I",
            "/RI",
            "/S",
            "/U",
            "/P",
        }
        flags = {"/F", "/Z", "/IT", "/K"}
        if modern:
            values |= {"/RL", "/XML", "/DELAY", "/EC"}
            flags |= {"/V1", "/HRESULT"} | ({"/NP"} if node.family == "2012" else set())
        opts = self._options(argv, "/CREATE", values, flags)
        if isinstance(opts, ToolResult):
            return opts
        for unsupported in (
            "/XML",
            "/S",
            "/U",
            "/P",
            "/ED",
            "/ET",
            "/DU",
            "/M",
            "/I",
            "/RI",
            "/DELAY",
            "/EC",
            "/K",
        ):
            if unsupported in opts:
                return node.not_simulated_result(f"schtasks /Create with {unsupported}")
        for required in ("/SC", "/TN", "/TR"):
            if required not in opts:
                return self._err("schtasks.missing", opt=required, verb="/CREATE")
        sc = opts["/SC"].upper()
        if sc not in ("ONCE", "DAILY", "WEEKLY"):
            if sc in ("MINUTE", "HOURLY", "MONTHLY", "ONSTART", "ONLOGON", "ONIDLE", "ONEVENT"):
                return node.not_simulated_result(f"schtasks /Create /SC {sc}")
            return self._err("schtasks.bad_value", opt="/SC")
        name = opts["/TN"]
        run = opts["/TR"]
        if len(name) > 238:
            return self._err("schtasks.too_long", opt="/TN", n=238)
        if len(run) > 261:
            return self._err("schtasks.too_long", opt="/TR", n=261)
        if not modern and "\\" in name:
            return self._err("schtasks.bad_value", opt="/TN")
        # /D: WEEKLY takes MON…SUN (comma-separated) or *, MON when omitted; no other simulated
        # schedule type takes it (schtasks /Create, Microsoft Learn)
        weekdays: tuple[int, ...] = ()
        if sc == "WEEKLY":
            days = opts.get("/D", "MON").upper()
            names = list(WEEKDAYS_EN) if days == "*" else [d.strip() for d in days.split(",")]
            if not names or any(d not in WEEKDAYS_EN for d in names):
                return self._err("schtasks.bad_value", opt="/D")
            weekdays = tuple(sorted({WEEKDAYS_EN.index(d) for d in names}))
        elif "/D" in opts:
            return self._err("schtasks.bad_value", opt="/D")
        interval = 1
        if "/MO" in opts:
            if sc != "DAILY" or not opts["/MO"].isdigit() or not 1 <= int(opts["/MO"]) <= 365:
                return self._err("schtasks.bad_value", opt="/MO")
            interval = int(opts["/MO"])
        now = node.time.local()
        if "/ST" in opts:
            st = _parse_st(opts["/ST"], need_seconds=not modern)
            if st is None:
                return self._err("schtasks.bad_st")
        elif sc == "ONCE":
            return self._err("schtasks.missing", opt="/ST", verb="/CREATE")
        else:
            st = (now.hour, now.minute, 0)
        if "/SD" in opts:
            try:
                sd = t.parse_short_date(opts["/SD"])
            except ValueError:
                return self._err("schtasks.bad_sd", fmt=t.short_date_pattern())
        else:
            sd = now.date()
        start = datetime(sd.year, sd.month, sd.day, st[0], st[1], st[2])
        out = ""
        run_as = opts.get("/RU", proc.user)
        if run_as.upper() in ("SYSTEM", "NT AUTHORITY\\SYSTEM", ""):
            run_as = "SYSTEM"
        has_password = "/RP" in opts and run_as != "SYSTEM"
        if "/RP" in opts and opts["/RP"] in ("*", ""):
            return node.not_simulated_result("schtasks /RP * (prompts for the password)")
        if "/RP" in opts and run_as == "SYSTEM" and modern:
            out += lines(t.t("schtasks.rp_system"))
        existing = self.get(name)
        if existing is not None and "/F" not in opts:
            return self._err("schtasks.exists")
        if sc == "ONCE" and modern and start <= now and "/SD" not in opts:
            out += lines(t.t("schtasks.st_past"))
        display = name.lstrip("\\") if modern else name
        task = Task(
            name=display,
            run=run,
            kind=sc,
            start=start,
            interval=interval,
            weekdays=weekdays,
            run_as=run_as,
            author=node.qualified(proc.user),
            has_password=has_password,
            run_level=opts.get("/RL", "LIMITED").upper(),
            interactive_only=run_as != "SYSTEM" and not has_password,
            delete_when_done="/Z" in opts,
            registered=now,
            fired_until=now,
        )
        if existing is not None:
            self.remove(existing.name)
        self.add(task)
        shown = name.lstrip("\\") if modern else name
        out += lines(t.t("schtasks.created", name=shown))
        return ToolResult(0, out)

    def _delete(self, proc: Proc, argv: list[str]) -> ToolResult:
        node = self.node
        opts = self._options(argv, "/DELETE", {"/TN", "/S", "/U", "/P"}, {"/F"})
        if isinstance(opts, ToolResult):
            return opts
        if "/TN" not in opts:
            return self._err("schtasks.missing", opt="/TN", verb="/DELETE")
        name = opts["/TN"]
        if name == "*":
            return node.not_simulated_result("schtasks /Delete /TN *")
        task = self.get(name)
        if task is None:
            return self._err("schtasks.not_found")
        if "/F" not in opts:
            node.record_not_simulated(f"schtasks /Delete without /F asks (Y/N) on the console: {name}")
            return ToolResult(1, lines(f'WARNING: Are you sure you want to remove the task "{name}" (Y/N)? '))
        self.remove(task.name)
        return ToolResult(
            0, lines(node.texts.t("schtasks.deleted", name=name.lstrip("\\") if node.os != "2003" else name))
        )

    def _run(self, proc: Proc, argv: list[str]) -> ToolResult:
        node = self.node
        flags = {"/I"} if node.os != "2003" else set()
        opts = self._options(argv, "/RUN", {"/TN", "/S", "/U", "/P"}, flags)
        if isinstance(opts, ToolResult):
            return opts
        if "/TN" not in opts:
            return self._err("schtasks.missing", opt="/TN", verb="/RUN")
        task = self.get(opts["/TN"])
        if task is None:
            return self._err("schtasks.not_found")
        if not node.schedule_running:
            return ToolResult(1, err=lines("ERROR: " + node.texts.t("at.not_started")))
        shown = opts["/TN"].lstrip("\\") if node.os != "2003" else opts["/TN"]
        out = ""
        if task.running:
            out += lines(node.texts.t("schtasks.already_running", name=shown))
        else:
            node.after_current(lambda: self.run_task(task))
        out += lines(node.texts.t("schtasks.run", name=shown))
        return ToolResult(0, out)

    def _end(self, proc: Proc, argv: list[str]) -> ToolResult:
        node = self.node
        opts = self._options(argv, "/END", {"/TN", "/S", "/U", "/P"}, set())
        if isinstance(opts, ToolResult):
            return opts
        if "/TN" not in opts:
            return self._err("schtasks.missing", opt="/TN", verb="/END")
        task = self.get(opts["/TN"])
        shown = opts["/TN"].lstrip("\\")
        if task is None:
            return self._err("schtasks.not_found")
        if not task.running:
            return self._err("schtasks.not_running", name=shown)
        task.running = False
        return ToolResult(0, lines(node.texts.t("schtasks.ended", name=shown)))

    # -- query ---------------------------------------------------------------------------------
    def _query(self, proc: Proc, argv: list[str], verb: str) -> ToolResult:
        node = self.node
        modern = node.os != "2003"
        values = {"/FO", "/S", "/U", "/P"} | ({"/TN"} if modern else set())
        flags = {"/V", "/NH"}
        # /XML takes an optional ONE
        xml = False
        xml_one = False
        rest: list[str] = []
        i = 0
        while i < len(argv):
            if modern and argv[i].upper() in ("/XML", "-XML"):
                xml = True
                if i + 1 < len(argv) and argv[i + 1].upper() == "ONE":
                    xml_one = True
                    i += 1
            else:
                rest.append(argv[i])
            i += 1
        opts = self._options(rest, verb, values, flags)
        if isinstance(opts, ToolResult):
            return opts
        if "/S" in opts:
            return node.not_simulated_result("schtasks /Query /S (a remote computer)")
        fmt = opts.get("/FO", "TABLE").upper()
        if fmt not in ("TABLE", "LIST", "CSV"):
            return self._err("schtasks.bad_value", opt="/FO")
        if "/V" in opts and fmt == "TABLE":
            return self._err("schtasks.bad_option", opt="/V", verb="/QUERY")
        if "/NH" in opts and fmt == "LIST":
            return self._err("schtasks.bad_option", opt="/NH", verb="/QUERY")
        tasks = self.visible()
        if "/TN" in opts:
            one = self.get(opts["/TN"])
            if one is None:
                return self._err("schtasks.not_found")
            tasks = [one]
        if xml:
            if xml_one and len(tasks) > 1:
                body = (
                    '<?xml version="1.0" encoding="UTF-16"?>\n<Tasks>\n'
                    + "".join(f"<!-- \\{tk.name} -->\n" + self.task_xml(tk, decl=False) for tk in tasks)
                    + "</Tasks>"
                )
                return ToolResult(0, lines(*body.split("\n")))
            body = "".join(self.task_xml(tk, decl=True) + "\n" for tk in tasks)
            return ToolResult(0, lines(*body.rstrip("\n").split("\n")))
        if not tasks:
            return ToolResult(0, lines(node.texts.t("schtasks.none" if modern else "schtasks.none_2003")))
        verbose = "/V" in opts
        header = "/NH" not in opts
        if fmt == "LIST":
            return ToolResult(0, self._list(tasks, verbose))
        if fmt == "CSV":
            return ToolResult(0, self._csv(tasks, verbose, header))
        return ToolResult(0, self._table(tasks, header))

    # values ---------------------------------------------------------------------------------------
    def _dt(self, when: datetime) -> str:
        node = self.node
        if node.os == "2003":
            return f"{when.hour:02d}:{when.minute:02d}:{when.second:02d}, {node.texts.short_date(when)}"
        return node.texts.datetime_long(when)

    def record(self, task: Task) -> list[tuple[str, str]]:
        """The ``/V`` record of a task: ``(en-US key, value)`` in schtasks' order for this OS."""
        node = self.node
        t = node.texts
        modern = node.os != "2003"
        now = node.time.local()
        nxt = task.next_run(max(now, task.fired_until or now))
        if not task.enabled:
            next_s = t.t("val.disabled")
        elif nxt is None:
            next_s = t.t("val.na") if modern else t.t("val.never")
        else:
            next_s = self._dt(nxt)
        if task.running:
            status = t.t("val.running")
        elif not task.enabled:
            status = t.t("val.disabled")
        elif modern:
            status = t.t("val.ready")
        else:
            status = t.t("val.could_not_start") if task.last_result == COULD_NOT_START else ""
        if task.last_run is None:
            if node.family == "2012":
                last_run = t.datetime_long(datetime(1999, 11, 30, 0, 0, 0))
            else:
                last_run = t.t("val.na") if modern else t.t("val.never")
            last_result = str(HAS_NOT_RUN) if modern else "0"
        else:
            last_run = self._dt(task.last_run)
            last_result = str(task.last_result if task.last_result is not None else 0)
        if task.interactive_only:
            logon = t.t("val.logon_i")
        else:
            logon = t.t("val.logon_ib")
        if task.is_system:
            run_as = "SYSTEM" if modern else "NT AUTHORITY\\SYSTEM"
        else:
            run_as = task.run_as
        kind = {"ONCE": "val.once", "DAILY": "val.daily", "WEEKLY": "val.weekly", "MONTHLY": "val.monthly"}
        stype = t.t(kind[task.kind])
        if task.kind == "DAILY":
            days = t.t("val.every_n_days", n=task.interval)
        elif task.kind == "WEEKLY":
            days = ", ".join(WEEKDAYS_EN[d] for d in sorted(task.weekdays))
        elif task.kind == "MONTHLY":
            days = ",".join(str(d) for d in sorted(task.monthdays))
        else:
            days = t.t("val.na")
        start_date = t.short_date(task.start)
        author = task.author or "N/A"
        name = task.name if not modern else "\\" + task.name
        if modern:
            start_time = t.long_time(task.start)
            return [
                ("HostName", node.hostname),
                ("TaskName", name),
                ("Next Run Time", next_s),
                ("Status", status),
                ("Logon Mode", logon),
                ("Last Run Time", last_run),
                ("Last Result", last_result),
                ("Author", author),
                ("Task To Run", task.run),
                ("Start In", t.t("val.na")),
                ("Comment", t.t("val.na")),
                ("Scheduled Task State", t.t("val.enabled" if task.enabled else "val.disabled")),
                ("Idle Time", t.t("val.disabled")),
                ("Power Management", t.t("val.power")),
                ("Run As User", run_as),
                (
                    "Delete Task If Not Rescheduled",
                    t.t("val.enabled" if task.delete_when_done else "val.disabled"),
                ),
                ("Stop Task If Runs X Hours and X Mins", "72:00:00"),
                ("Schedule", t.t("val.sched_na")),
                ("Schedule Type", stype),
                ("Start Time", start_time),
                ("Start Date", start_date),
                ("End Date", t.t("val.na")),
                ("Days", days),
                ("Months", t.t("val.na")),
                ("Repeat: Every", t.t("val.disabled")),
                ("Repeat: Until: Time", t.t("val.disabled")),
                ("Repeat: Until: Duration", t.t("val.disabled")),
                ("Repeat: Stop If Still Running", t.t("val.disabled")),
            ]
        hhmm = f"{task.start.hour:02d}:{task.start.minute:02d}"
        if task.kind == "DAILY":
            schedule = t.t("val.sched_2003_daily", time=hhmm, date=start_date)
        elif task.kind == "WEEKLY":
            schedule = t.t("val.sched_2003_weekly", time=hhmm, days=days, date=start_date)
        elif task.kind == "MONTHLY":
            schedule = t.t("val.sched_2003_monthly", time=hhmm, days=days, date=start_date)
        else:
            schedule = t.t("val.sched_2003_once", time=hhmm, date=start_date)
        return [
            ("HostName", node.hostname),
            ("TaskName", name),
            ("Next Run Time", next_s),
            ("Status", status),
            ("Logon Mode", logon),
            ("Last Run Time", last_run),
            ("Last Result", last_result),
            ("Creator", author.rpartition("\\")[2]),
            ("Schedule", schedule),
            ("Task To Run", task.run),
            ("Start In", t.t("val.na")),
            ("Comment", t.t("val.na")),
            ("Scheduled Task State", t.t("val.enabled" if task.enabled else "val.disabled")),
            ("Scheduled Type", stype.strip()),
            ("Start Time", f"{task.start.hour:02d}:{task.start.minute:02d}:{task.start.second:02d}"),
            ("Start Date", start_date),
            ("End Date", t.t("val.na")),
            ("Days", days),
            ("Months", t.t("val.na")),
            ("Run As User", run_as),
            (
                "Delete Task If Not Rescheduled",
                t.t("val.enabled" if task.delete_when_done else "val.disabled"),
            ),
            ("Stop Task If Runs X Hours and X Mins", "72:0"),
            ("Repeat: Every", t.t("val.disabled")),
            ("Repeat: Until: Time", t.t("val.disabled")),
            ("Repeat: Until: Duration", t.t("val.disabled")),
            ("Repeat: Stop If Still Running", t.t("val.disabled")),
            ("Idle Time", t.t("val.disabled")),
            ("Power Management", t.t("val.power_2003")),
        ]

    def _key(self, en: str) -> str:
        return JA_KEYS.get(en, en) if self.node.texts.ja else en

    def _list(self, tasks: list[Task], verbose: bool) -> str:
        node = self.node
        modern = node.os != "2003"
        out: list[str] = []
        folder = None
        for task in tasks:
            if modern and task.folder != folder:
                folder = task.folder
                out += ["", node.texts.t("schtasks.folder", folder=folder)]
            elif not modern and not out:
                out.append("")
            rec = self.record(task)
            if not verbose:
                rec = [rec[i] for i in (0, 1, 2, 3)] + ([rec[4]] if modern else [])
            for key, value in rec:
                label = self._key(key) + ":"
                out.append(f"{label:<38}{value}" if len(label) < 38 else f"{label} {value}")
            out.append("")
        return lines(*out)

    def _csv(self, tasks: list[Task], verbose: bool, header: bool) -> str:
        node = self.node
        modern = node.os != "2003"
        out: list[str] = []
        folder = None
        for task in tasks:
            rec = self.record(task)
            if not verbose:
                rec = [rec[1], rec[2], rec[3]]
            if header and (not out or (modern and task.folder != folder)):
                out.append(",".join(_csv_field(self._key(k)) for k, _ in rec))
            folder = task.folder
            out.append(",".join(_csv_field(v) for _, v in rec))
        return lines(*out)

    def _table(self, tasks: list[Task], header: bool) -> str:
        node = self.node
        modern = node.os != "2003"
        w = (40, 22, 15) if modern else (36, 24, 15)
        out: list[str] = []
        folder = None
        for task in tasks:
            rec = dict(self.record(task))
            if modern and task.folder != folder:
                folder = task.folder
                out += ["", node.texts.t("schtasks.folder", folder=folder)]
                if header:
                    out.append(
                        self._row(w, self._key("TaskName"), self._key("Next Run Time"), self._key("Status"))
                    )
                    out.append(" ".join("=" * x for x in w))
            elif not modern and not out:
                out.append("")
                if header:
                    out.append(
                        self._row(w, self._key("TaskName"), self._key("Next Run Time"), self._key("Status"))
                    )
                    out.append(" ".join("=" * x for x in w))
            out.append(self._row(w, task.name.rpartition("\\")[2], rec["Next Run Time"], rec["Status"]))
        return lines(*out)

    @staticmethod
    def _row(w: tuple[int, int, int], a: str, b: str, c: str) -> str:
        return f"{a:<{w[0]}} {b:<{w[1]}} {c}".rstrip()

    def task_xml(self, task: Task, *, decl: bool) -> str:
        """The Task Scheduler 2.0 XML of a task (what ``/Query /XML`` prints)."""
        start = task.start.strftime("%Y-%m-%dT%H:%M:%S")
        reg = (task.registered or task.start).strftime("%Y-%m-%dT%H:%M:%S")
        if task.kind == "DAILY":
            trigger = (
                f"    <CalendarTrigger>\n      <StartBoundary>{start}</StartBoundary>\n"
                f"      <Enabled>true</Enabled>\n      <ScheduleByDay>\n"
                f"        <DaysInterval>{task.interval}</DaysInterval>\n      </ScheduleByDay>\n"
                f"    </CalendarTrigger>\n"
            )
        elif task.kind == "WEEKLY":
            names = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
            days = "".join(f"          <{names[d]} />\n" for d in sorted(task.weekdays))
            trigger = (
                f"    <CalendarTrigger>\n      <StartBoundary>{start}</StartBoundary>\n"
                f"      <Enabled>true</Enabled>\n      <ScheduleByWeek>\n        <DaysOfWeek>\n{days}"
                f"        </DaysOfWeek>\n        <WeeksInterval>1</WeeksInterval>\n      </ScheduleByWeek>\n"
                f"    </CalendarTrigger>\n"
            )
        else:
            trigger = (
                f"    <TimeTrigger>\n      <StartBoundary>{start}</StartBoundary>\n"
                f"      <Enabled>true</Enabled>\n    </TimeTrigger>\n"
            )
        if task.is_system:
            principal = "      <UserId>S-1-5-18</UserId>\n"
        else:
            logon = "Password" if task.has_password else "InteractiveToken"
            principal = (
                f"      <UserId>{escape(task.run_as)}</UserId>\n      <LogonType>{logon}</LogonType>\n"
            )
        level = "HighestAvailable" if task.run_level == "HIGHEST" else "LeastPrivilege"
        command, arguments = _split_tr(task.run)
        args_xml = f"      <Arguments>{escape(arguments)}</Arguments>\n" if arguments else ""
        uri = f"    <URI>\\{escape(task.name)}</URI>\n" if self.node.family == "2012" else ""
        text = (
            ('<?xml version="1.0" encoding="UTF-16"?>\n' if decl else "")
            + '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">\n'
            + "  <RegistrationInfo>\n"
            + f"    <Date>{reg}</Date>\n"
            + f"    <Author>{escape(task.author or 'N/A')}</Author>\n"
            + uri
            + "  </RegistrationInfo>\n"
            + "  <Triggers>\n"
            + trigger
            + "  </Triggers>\n"
            + '  <Principals>\n    <Principal id="Author">\n'
            + principal
            + f"      <RunLevel>{level}</RunLevel>\n    </Principal>\n  </Principals>\n"
            + "  <Settings>\n"
            + "    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>\n"
            + "    <DisallowStartIfOnBatteries>true</DisallowStartIfOnBatteries>\n"
            + "    <StopIfGoingOnBatteries>true</StopIfGoingOnBatteries>\n"
            + "    <AllowHardTerminate>true</AllowHardTerminate>\n"
            + "    <StartWhenAvailable>false</StartWhenAvailable>\n"
            + "    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>\n"
            + "    <IdleSettings>\n      <Duration>PT10M</Duration>\n      <WaitTimeout>PT1H</WaitTimeout>\n"
            + "      <StopOnIdleEnd>true</StopOnIdleEnd>\n      <RestartOnIdle>false</RestartOnIdle>\n"
            + "    </IdleSettings>\n"
            + "    <AllowStartOnDemand>true</AllowStartOnDemand>\n"
            + f"    <Enabled>{'true' if task.enabled else 'false'}</Enabled>\n"
            + "    <Hidden>false</Hidden>\n"
            + "    <RunOnlyIfIdle>false</RunOnlyIfIdle>\n"
            + "    <WakeToRun>false</WakeToRun>\n"
            + "    <ExecutionTimeLimit>PT72H</ExecutionTimeLimit>\n"
            + ("    <DeleteExpiredTaskAfter>PT0S</DeleteExpiredTaskAfter>\n" if task.delete_when_done else "")
            + "    <Priority>7</Priority>\n"
            + "  </Settings>\n"
            + '  <Actions Context="Author">\n    <Exec>\n'
            + f"      <Command>{escape(command)}</Command>\n"
            + args_xml
            + "    </Exec>\n  </Actions>\n"
            + "</Task>"
        )
        return text


def _csv_field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _split_tr(run: str) -> tuple[str, str]:
    """How Task Scheduler splits a ``/TR`` value into ``Command`` and ``Arguments``."""
    s = run.strip()
    if s.startswith('"'):
        end = s.find('"', 1)
        if end > 0:
            return s[1:end], s[end + 1 :].strip()
        return s.strip('"'), ""
    command, _, arguments = s.partition(" ")
    return command, arguments.strip()


def _parse_st(text: str, *, need_seconds: bool) -> tuple[int, int, int] | None:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text.strip())
    if not m:
        return None
    if need_seconds and m.group(3) is None:
        return None
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 23 or mi > 59 or s > 59:
        return None
    return h, mi, s


# Japanese /V keys: the first seven seen in a capture, the rest assumed.
JA_KEYS: dict[str, str] = {
    "HostName": "ホスト名",
    "TaskName": "タスク名",
    "Next Run Time": "次回の実行時刻",
    "Status": "状態",
    "Logon Mode": "ログオン モード",
    "Last Run Time": "前回の実行時刻",
    "Last Result": "前回の結果",
    "Author": "作成者",  # ja assumed (from here on)
    "Creator": "作成者",
    "Task To Run": "実行するタスク",
    "Start In": "開始",
    "Comment": "コメント",
    "Scheduled Task State": "スケジュールされたタスクの状態",
    "Idle Time": "アイドル時間",
    "Power Management": "電源管理",
    "Run As User": "ユーザーとして実行",
    "Delete Task If Not Rescheduled": "再スケジュールされない場合はタスクを削除する",
    "Stop Task If Runs X Hours and X Mins": "X 時間 X 分実行した場合はタスクを停止する",
    "Schedule": "スケジュール",
    "Schedule Type": "スケジュールの種類",
    "Scheduled Type": "スケジュールの種類",
    "Start Time": "開始時刻",
    "Start Date": "開始日",
    "End Date": "終了日",
    "Days": "日",
    "Months": "月",
    "Repeat: Every": "繰り返し: 間隔",
    "Repeat: Until: Time": "繰り返し: 終了時刻",
    "Repeat: Until: Duration": "繰り返し: 期間",
    "Repeat: Stop If Still Running": "繰り返し: 実行中の場合は停止",
}


def weekday_index(text: str) -> int | None:
    """AT's day names (M T W Th F S Su) → 0..6."""
    return {"M": 0, "T": 1, "W": 2, "TH": 3, "F": 4, "S": 5, "SA": 5, "SU": 6}.get(text.upper())


def today(node: SimulatedWindows) -> date:
    return node.time.local().date()
