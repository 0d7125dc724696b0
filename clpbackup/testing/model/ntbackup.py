r"""NTBackup (``ntbackup.exe``) on a simulated Windows Server 2003 node.

``ntbackup backup "@<file>.bks" /J "<job>" [/P "<pool>" [/UM] | /T "<tape>" [/A] | /F "<file>.bkf" [/A]]
[/N "<media>"] [/D "<description>"] [/V:yes|no] [/R:yes|no] [/L:f|s|n] [/M <type>] [/RS:yes|no]
[/HC:on|off] [/SNAP:on|off]`` — the selection file is read as UTF-16 LE without a byte-order mark
(the form NTBackup writes): a leading FF FE stays in the first line, which then names nothing, and
ANSI text selects nothing at all (no backup set; the log shows no set; exit code 0). A line ending
in ``\`` is a folder (``E:\`` the drive), a line without it names a file and selects every file of
that name in the subtree of its folder; ``SystemState`` the system state; ``<line> /exclude``
excludes by the same rules. The log goes to
``<profile>\\Local Settings\\Application Data\\Microsoft\\Windows NT\\NTBackup\\data\\backup01.log`` …
``backup10.log`` (rotating) of the account that ran it — SYSTEM for a scheduled job — in UTF-16 LE,
in the format ``clpbackup.parsers.ntbackup`` documents. A selected volume that is not attached to this
node (the switchover job on the standby, rule JOB-3) makes the shadow copy fail and the backup abort.

Media: pools hold tapes (:class:`Tape`); ``/P`` with ``/UM`` takes the first tape of the pool and
overwrites it, ``/T`` names a tape (``/A`` appends a set, rule NT-3; without it the tape is
overwritten), ``/F`` writes a ``.bkf`` file (``/A`` appends).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from clpbackup.testing.model.base import Proc, ToolResult
from clpbackup.testing.model.fs import FsError

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.testing.model.node import SimulatedWindows

LOG_DIR = "Local Settings\\Application Data\\Microsoft\\Windows NT\\NTBackup\\data"
TYPES = ("normal", "copy", "differential", "incremental", "daily")


@dataclass
class BackupSet:
    """One backup set written by NTBackup."""

    number: int
    job: str
    description: str
    kind: str
    when: datetime  # UTC
    items: list[str]
    files: dict[str, bytes] = field(default_factory=dict)
    node: str = ""


@dataclass
class AppEvent:
    """An Application event log entry (source ``NTBackup``): event ID, type and local time.

    NTBackup writes 8000 when the backup of a volume begins, 8001 when it ends (an error entry
    when that volume failed) and 8019 when the operation ends (information when it succeeded);
    the IDs do not depend on the language (docs/windows-facts.md)."""

    event_id: int
    entry_type: str  # "Information" | "Warning" | "Error"
    when: datetime  # UTC
    source: str = "NTBackup"


@dataclass
class Tape:
    """A tape (or a .bkf file's media): its name, pool, and the backup sets it holds."""

    name: str
    pool: str
    sets: list[BackupSet] = field(default_factory=list)


@dataclass
class NtBackupState:
    """A 2003 node's Removable Storage media and NTBackup's log rotation."""

    tapes: list[Tape] = field(default_factory=list)
    bkf: dict[str, Tape] = field(default_factory=dict)  # lower-case path → media of that file
    next_log: dict[str, int] = field(default_factory=dict)  # user → next log number (1..10)
    runs: list[dict[str, object]] = field(default_factory=list)
    events: list[AppEvent] = field(default_factory=list)
    """The Application event log entries of source NTBackup, oldest first."""
    faults: list[str] = field(default_factory=list)
    """One-shot faults, taken by the next run: ``"ended-exit-0"`` makes the backup stop after its
    set started (the log says "The operation was ended."), yet ntbackup exits 0 — the case that
    makes every real tool judge NTBackup by its log, not its exit code. ``"vss-error"`` makes the
    next run's shadow copy fail (error 80042308, "Aborting Backup.") as when a selected volume is
    absent: the run ends with exit code 1."""

    def pool(self, name: str) -> list[Tape]:
        return [t for t in self.tapes if t.pool == name]

    def tape(self, name: str) -> Tape | None:
        for t in self.tapes:
            if t.name == name:
                return t
        return None

    def add_pool(self, name: str, count: int = 2) -> None:
        """Put ``count`` blank tapes into the media pool ``name`` (unless it has tapes)."""
        if not self.pool(name):
            for i in range(count):
                self.tapes.append(Tape(f"{name} - blank {i + 1}", name))


def state(node: SimulatedWindows) -> NtBackupState:
    """The node's NTBackup state (created on first use)."""
    if node.ntbackup is None:
        node.ntbackup = NtBackupState()
    st = node.ntbackup
    assert isinstance(st, NtBackupState)
    return st


def log_path(node: SimulatedWindows, user: str, number: int) -> str:
    return f"{node.profile_dir(user)}\\{LOG_DIR}\\backup{number:02d}.log"


def _when(node: SimulatedWindows, dt: datetime) -> str:
    local = node.time.to_local(dt)
    t = node.texts
    if t.ja:
        return f"{t.short_date(local)} {local.hour}:{local.minute:02d}"
    return f"{t.short_date(local)} at {t.short_time(local)}"


def _fail(node: SimulatedWindows, why: str) -> ToolResult:
    # Real NTBackup shows a message box for a bad command line: on a server nobody closes it.
    node.record_not_simulated(f"ntbackup would show an error dialog: {why}")
    return ToolResult(1)


def ntbackup_command(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    """``ntbackup backup …`` (see the module docstring)."""
    if not argv or argv[0].lower() != "backup":
        return node.not_simulated_result("ntbackup " + tail + " (only 'backup' has a command line)")
    opts: dict[str, str] = {}
    selection: str | None = None
    i = 1
    with_value = {"/j", "/p", "/g", "/t", "/n", "/f", "/d", "/ds", "/is", "/m"}
    while i < len(argv):
        a = argv[i]
        low = a.lower()
        if low in with_value:
            if i + 1 >= len(argv):
                return _fail(node, f"{a} needs a value")
            opts[low] = argv[i + 1]
            i += 2
            continue
        if low in ("/a", "/um"):
            opts[low] = ""
        elif ":" in low and low.split(":", 1)[0] in ("/v", "/r", "/l", "/rs", "/hc", "/snap"):
            opts[low.split(":", 1)[0]] = low.split(":", 1)[1]
        elif not low.startswith("/") and selection is None:
            selection = a
        else:
            return _fail(node, f"unknown switch {a}")
        i += 1
    if selection is None:
        return _fail(node, "no selection")
    if "/p" in opts and any(k in opts for k in ("/a", "/g", "/f", "/t")):
        return _fail(node, "/P cannot be combined with /A, /G, /F or /T")
    if "/f" in opts and any(k in opts for k in ("/g", "/t")):
        return _fail(node, "/F cannot be combined with /G or /T")
    if "/a" in opts and "/n" in opts:
        return _fail(node, "/N cannot be combined with /A")
    if "/g" in opts or "/ds" in opts or "/is" in opts:
        return node.not_simulated_result("ntbackup /G, /DS or /IS")
    if not any(k in opts for k in ("/p", "/t", "/f")):
        return node.not_simulated_result("ntbackup without /P, /T or /F (the media of the GUI's last run)")
    kind = opts.get("/m", "normal").lower()
    if kind not in TYPES:
        return _fail(node, f"/M {kind}")
    if "/p" in opts and "/um" not in opts:
        return node.not_simulated_result("ntbackup /P without /UM (waits for an operator to provide media)")
    st = state(node)
    t = node.texts
    now = node.clock.now()
    # -- the selection -------------------------------------------------------------------------------
    items: list[str] = []
    excluded: list[str] = []
    if selection.startswith("@"):
        try:
            raw = node.fs.read_bytes(selection[1:], proc.cwd)
        except FsError:
            raw = b""
        # NTBackup reads a .bks as UTF-16 LE, the form it writes itself (no byte-order mark). A file
        # that starts with FF FE keeps U+FEFF at the start of its first line, which then names no
        # path; ANSI or UTF-8 text read as UTF-16 names nothing at all (docs/windows-facts.md).
        text = raw[: len(raw) // 2 * 2].decode("utf-16-le", errors="replace")
        for line in text.splitlines():
            line = line.strip(" \t")
            if not line:
                continue
            if line.lower().endswith("/exclude"):
                excluded.append(line[: -len("/exclude")].strip())
            else:
                items.append(line)
    elif selection.lower() == "systemstate":
        return node.not_simulated_result("ntbackup backup systemstate")
    else:
        items.append(selection)
    # -- media ---------------------------------------------------------------------------------------------
    media_label = t.t("ntb.media_created", when=_when(node, now))
    destination = opts.get("/p") or opts.get("/t") or "File"
    tape: Tape | None
    append = "/a" in opts
    if "/p" in opts:
        pool = st.pool(opts["/p"])
        if not pool:
            return _write_log(
                node,
                proc,
                now,
                [
                    t.t("ntb.status"),
                    t.t("ntb.operation"),
                    t.t("ntb.destination", dest=destination),
                    "",
                    t.t("ntb.no_media", pool=opts["/p"]),
                    t.t("ntb.aborting"),
                    "",
                    "----------------------",
                    "",
                    t.t("ntb.not_complete"),
                ],
                1,
            )
        blank = [x for x in pool if not x.sets]
        tape = blank[0] if blank else pool[0]
        tape.sets = []
        tape.name = opts.get("/n") or media_label
    elif "/t" in opts:
        tape = st.tape(opts["/t"])
        if tape is None:
            return _write_log(
                node,
                proc,
                now,
                [
                    t.t("ntb.status"),
                    t.t("ntb.operation"),
                    t.t("ntb.destination", dest=destination),
                    "",
                    t.t("ntb.no_tape", tape=opts["/t"]),
                    t.t("ntb.aborting"),
                    "",
                    "----------------------",
                    "",
                    t.t("ntb.not_complete"),
                ],
                1,
            )
        if not append:
            tape.sets = []
            if "/n" in opts:
                tape.name = opts["/n"]
    else:
        path = opts["/f"]
        key = node.fs.full_path(path, proc.cwd).lower() if _path_ok(node, proc, path) else path.lower()
        tape = st.bkf.get(key) if append and node.fs.is_file(path, proc.cwd) else None
        if tape is None:
            tape = Tape(opts.get("/n") or media_label, "File")
            st.bkf[key] = tape
        destination = "File"
    lines_out = [
        t.t("ntb.status"),
        t.t("ntb.operation"),
        t.t("ntb.destination", dest=destination),
        t.t("ntb.media_name", name=tape.name),
        "",
    ]
    # -- shadow copy: every selected volume must be here (JOB-3) ----------------------------------------
    volumes: list[str] = []
    for item in items:
        letter = item[:2].upper()
        if len(item) >= 2 and item[1] == ":" and letter not in volumes:
            volumes.append(letter)
    snap = opts.get("/snap", "on") != "off"
    if snap and volumes:
        lines_out.append(t.t("ntb.vss_attempt"))
    missing = [v for v in volumes if not node.fs.has_volume(v)]
    if "vss-error" in st.faults:
        st.faults.remove("vss-error")
        missing = missing or volumes[:1] or ["C:"]
    if missing:
        lines_out += [
            t.t("ntb.vss_error", code="80042308"),
            t.t("ntb.aborting"),
            "",
            "----------------------",
            "",
            t.t("ntb.not_complete"),
        ]
        st.runs.append({"when": now, "job": opts.get("/j", ""), "ok": False, "missing": missing})
        return _write_log(node, proc, now, lines_out, 1)
    # -- one set per volume --------------------------------------------------------------------------------
    written: list[BackupSet] = []
    ended = "ended-exit-0" in st.faults
    if ended:
        st.faults.remove("ended-exit-0")
    system_state = any(x.lower() == "systemstate" for x in items)
    for vol in volumes + (["SystemState"] if system_state else []):
        files: dict[str, bytes] = {}
        for item in [x for x in items if x[:2].upper() == vol and vol != "SystemState"]:
            try:
                for full, data in _selected(node, proc, item):
                    if not any(_matches(full, e) for e in excluded):
                        files[full] = data
            except FsError:
                lines_out.append(t.t("ntb.skipped", path=item))
        number = len(tape.sets) + 1
        description = opts.get("/d") or t.t("ntb.set_created", when=_when(node, now))
        if ended:
            # the fault: the backup stops after its set started, and ntbackup still exits 0
            lines_out += [
                t.t("ntb.of_snap" if snap else "ntb.of", name=vol),
                t.t("ntb.set_on_media", n=number),
                t.t("ntb.description", text=description),
                "",
                t.t("ntb.started", when=_when(node, now)),
                t.t("ntb.ended"),
                "",
                "----------------------",
                "",
            ]
            st.runs.append({"when": now, "job": opts.get("/j", ""), "ok": False, "fault": "ended-exit-0"})
            return _write_log(node, proc, now, lines_out, 0, volumes=1, ok=False)
        bset = BackupSet(number, opts.get("/j", ""), description, kind, now, list(items), files, node.name)
        tape.sets.append(bset)
        written.append(bset)
        via = "ntb.of_snap" if snap else "ntb.of"
        folders = {p.rpartition("\\")[0] for p in files}
        lines_out += [
            t.t(via, name="System State" if vol == "SystemState" else f"{vol} {node.fs.volumes[vol].label}"),
            t.t("ntb.set_on_media", n=number),
            t.t("ntb.description", text=description),
            t.t("ntb.media_name", name=tape.name),
            "",
            t.t("ntb.type", kind=t.t(f"ntb.kind.{kind}")),
            "",
            t.t("ntb.started", when=_when(node, now)),
            t.t("ntb.completed", when=_when(node, now)),
            t.t("ntb.dirs", n=f"{len(folders):,}"),
            t.t("ntb.files", n=f"{len(files):,}"),
            t.t("ntb.bytes", n=f"{sum(len(d) for d in files.values()):,}"),
            t.t("ntb.time"),
            "",
        ]
    lines_out += ["----------------------", ""]
    if opts.get("/v", "no") == "yes" and written:
        lines_out += [
            t.t("ntb.verify_status"),
            t.t("ntb.verify_operation"),
            t.t("ntb.destination", dest=destination),
            t.t("ntb.media_name", name=tape.name),
            "",
        ]
        for bset in written:
            vol = next(iter(bset.files))[:2] if bset.files else "?"
            lines_out += [
                t.t(
                    "ntb.verify_of",
                    name=f"{vol} {node.fs.volumes[vol].label}" if vol in node.fs.volumes else vol,
                ),
                t.t("ntb.set_on_media", n=bset.number),
                t.t("ntb.description", text=bset.description),
                "",
                t.t("ntb.verify_started", when=_when(node, now)),
                t.t("ntb.verify_completed", when=_when(node, now)),
                t.t("ntb.dirs", n=f"{len({p.rpartition(chr(92))[0] for p in bset.files}):,}"),
                t.t("ntb.files", n=f"{len(bset.files):,}"),
                t.t("ntb.different"),
                t.t("ntb.bytes", n=f"{sum(len(d) for d in bset.files.values()):,}"),
                t.t("ntb.time"),
                "",
            ]
        lines_out += ["----------------------", ""]
    if "/f" in opts:
        try:
            data = b"TAPE" + "".join(f"{s.number}:{s.description}\n" for s in tape.sets).encode("utf-16-le")
            node.fs.write_bytes(opts["/f"], data, proc.cwd, mtime=now)
        except FsError:
            return _write_log(
                node,
                proc,
                now,
                [
                    *lines_out[:5],
                    t.t("ntb.file_error", path=opts["/f"]),
                    t.t("ntb.aborting"),
                    "",
                    "----------------------",
                    "",
                    t.t("ntb.not_complete"),
                ],
                1,
            )
    st.runs.append(
        {
            "when": now,
            "job": opts.get("/j", ""),
            "ok": bool(written),
            "sets": len(written),
            "media": tape.name,
            "append": append,
        }
    )
    return _write_log(node, proc, now, lines_out, 0, volumes=len(written), ok=True)


def _is_folder_line(line: str) -> bool:
    # "E:" and "E:\" are the drive; a folder line ends with a backslash
    return line.endswith("\\") or (len(line) == 2 and line[1] == ":")


def _selected(node: SimulatedWindows, proc: Proc, line: str) -> list[tuple[str, bytes]]:
    """The files one .bks line selects: a folder (or drive) line its whole subtree; a line without
    the trailing backslash names a file, and NTBackup takes every file of that name in the subtree
    of its folder (stickyworknotes 2009; ITPro Today)."""
    if _is_folder_line(line):
        return node.fs.walk(line if line.endswith("\\") else line + "\\", proc.cwd)
    folder, _, name = line.rpartition("\\")
    return [
        (full, data)
        for full, data in node.fs.walk(folder + "\\", proc.cwd)
        if full.rpartition("\\")[2].lower() == name.lower()
    ]


def _matches(full: str, line: str) -> bool:
    """True when the file ``full`` is covered by the .bks line ``line`` (same rules as a selection)."""
    low = full.lower()
    if _is_folder_line(line):
        return low.startswith(line.rstrip("\\").lower() + "\\")
    folder, _, name = line.lower().rpartition("\\")
    return low.startswith(folder + "\\") and low.rpartition("\\")[2] == name


def _path_ok(node: SimulatedWindows, proc: Proc, path: str) -> bool:
    try:
        node.fs.resolve(path, proc.cwd)
    except FsError:
        return False
    return True


def _write_log(
    node: SimulatedWindows,
    proc: Proc,
    now: datetime,
    text_lines: list[str],
    rc: int,
    *,
    volumes: int = 0,
    ok: bool | None = None,
) -> ToolResult:
    st = state(node)
    good = rc == 0 if ok is None else ok
    for i in range(volumes):
        st.events.append(AppEvent(8000, "Information", now))
        last = i == volumes - 1
        st.events.append(AppEvent(8001, "Information" if good or not last else "Error", now))
    st.events.append(AppEvent(8019, "Information" if good else "Error", now))
    user = proc.user
    key = user.lower()
    number = st.next_log.get(key, 1)
    st.next_log[key] = number % 10 + 1
    path = log_path(node, user, number)
    body = "\r\n".join(text_lines) + "\r\n"
    node.fs.write_bytes(path, b"\xff\xfe" + body.encode("utf-16-le"), parents=True, mtime=now)
    # ntbackup prints nothing on its console; its exit code is not trusted (rule NT-2): read the log.
    return ToolResult(rc)
