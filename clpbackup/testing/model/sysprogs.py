"""Small Windows programs of a simulated node: cmd.exe, ping, hostname, chcp, whoami, sc, net,
certutil and CLUSTERPRO's clpstat. Anything they are asked beyond what clpbackup and its operators
use is reported as not simulated."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import timedelta
from typing import TYPE_CHECKING

from clpbackup.testing.model.base import Proc, ToolResult, lines
from clpbackup.testing.model.fs import FsError

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.testing.model.node import SimulatedWindows


def cmd_exe(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    """``cmd [/s] [/q] [/d] [/a|/u] [/e:on] [/v:off] /c <string>``."""
    s_flag = False
    i = 0
    text = tail
    while True:
        m = re.match(r"\s*(/[A-Za-z](?::\w+)?)", text[i:])
        if not m:
            return node.not_simulated_result("cmd.exe without /c (an interactive shell): cmd " + tail)
        opt = m.group(1).lower()
        i += m.end()
        if opt == "/c":
            break
        if opt == "/k":
            return node.not_simulated_result("cmd /k (keeps an interactive shell open)")
        if opt == "/s":
            s_flag = True
        elif opt == "/q":
            proc.echo = False
        elif opt in ("/d", "/a", "/u", "/e:on", "/e:off", "/v:off", "/f:off", "/x", "/y"):
            pass
        else:
            return node.not_simulated_result(f"cmd option {m.group(1)}")
    q = text[i:].lstrip(" \t")
    if q.startswith('"'):
        end = q.find('"', 1)
        inner = q[1:end] if end > 0 else q[1:]
        keep = (
            not s_flag
            and q.count('"') == 2
            and end > 0
            and not any(c in inner for c in "&<>()@^|")
            and any(c in inner for c in " \t")
            and node.resolve_program(proc, inner)[0] != "missing"
        )
        if not keep:
            last = q.rfind('"')
            q = q[1:last] + q[last + 1 :] if last > 0 else q[1:]
    if not q.strip():
        return ToolResult(0)
    return node.run_cmdline(proc, q)


def ping(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    """``ping [-n N] host`` — answers at once; the model's clock does not move."""
    count = 4
    host = None
    i = 0
    while i < len(argv):
        a = argv[i].lower()
        if a in ("-n", "/n", "-w", "/w", "-l", "/l", "-i", "/i") and i + 1 < len(argv):
            if a in ("-n", "/n"):
                if not argv[i + 1].isdigit():
                    return ToolResult(
                        1, lines("Bad value for option -n, valid range is from 1 to 4294967295.")
                    )
                count = int(argv[i + 1])
            i += 2
            continue
        if a.startswith(("-", "/")):
            return node.not_simulated_result(f"ping option {argv[i]}")
        host = argv[i]
        i += 1
    if host is None:
        return node.not_simulated_result("ping without a host")
    t = node.texts
    if host.lower() not in ("127.0.0.1", "localhost", node.hostname.lower(), node.name.lower()):
        return ToolResult(1, lines(t.t("ping.unknown_host", host=host)))
    shown = "127.0.0.1" if host.lower() == "localhost" else host
    out = ["", t.t("ping.head", host=shown)]
    out += [t.t("ping.reply", host=shown)] * count
    out += ["", t.t("ping.stats", host=shown, n=count)]
    return ToolResult(0, lines(*out))


def hostname(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    if argv:
        return node.not_simulated_result("hostname with arguments")
    return ToolResult(0, lines(node.hostname))


_FIND = re.compile(r'^\s*((?:/[A-Za-z]+\s+)*)"((?:[^"]|"")*)"(.*)$', re.DOTALL)


def find(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    """``find [/v] [/c] [/n] [/i] "string" <file>...`` (windows-commands/find): the lines of each
    file that contain the string, after ``---------- <FILE>``; exit code 0 found, 1 not found, 2 a
    file not found. Reading standard input (no file) is not simulated."""
    from clpbackup.testing.model.cmd import parse_args

    m = _FIND.match(tail)
    if m is None:
        return node.not_simulated_result("find " + tail)
    opts = {o.lower() for o in m.group(1).split()}
    if not opts <= {"/v", "/c", "/n", "/i"}:
        return ToolResult(2, err=lines("FIND: Parameter format not correct"))  # en assumed
    needle = m.group(2).replace('""', '"')
    files = parse_args(m.group(3))
    if not files:
        return node.not_simulated_result("find reading standard input")
    out: list[str] = []
    found = False
    for name in files:
        try:
            text = node.decode(node.fs.read_bytes(name, proc.cwd))
        except FsError:
            return ToolResult(2, "".join(out), lines(f"File not found - {name.upper()}"))
        rows = text.replace("\r\n", "\n").split("\n")
        if rows and rows[-1] == "":
            rows.pop()
        want = needle.lower() if "/i" in opts else needle
        hits = [
            (i, row)
            for i, row in enumerate(rows, 1)
            if (want in (row.lower() if "/i" in opts else row)) != ("/v" in opts)
        ]
        found = found or bool(hits)
        shown = name.upper()
        if "/c" in opts:
            out.append(lines("", f"---------- {shown}: {len(hits)}"))
        else:
            out.append(lines("", f"---------- {shown}"))
            out.append("".join(lines(f"[{i}]{row}" if "/n" in opts else row) for i, row in hits))
    return ToolResult(0 if found else 1, "".join(out))


def whoami(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    if argv:
        return node.not_simulated_result("whoami " + tail)
    user = proc.user
    if user.upper() in ("SYSTEM", "NT AUTHORITY\\SYSTEM"):
        return ToolResult(0, lines("nt authority\\system"))
    domain, _, name = user.rpartition("\\")
    return ToolResult(0, lines(f"{(domain or node.hostname).lower()}\\{name.lower()}"))


def chcp(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    if not argv:
        return ToolResult(0, lines(node.texts.t("cmd.chcp", cp=node.codepage)))
    if argv[0].isdigit() and int(argv[0]) in (437, 850, 932, 65001, 1252):
        # The console's code page would change for this cmd.exe only; the model's output stays in the
        # OEM code page, which is what a remote caller decodes anyway.
        return ToolResult(0, lines(node.texts.t("cmd.chcp", cp=int(argv[0]))))
    return ToolResult(1, lines("Invalid code page"))


_START = {"Auto": ("2", "AUTO_START"), "Manual": ("3", "DEMAND_START"), "Disabled": ("4", "DISABLED")}


def _display(node: SimulatedWindows) -> str:
    return "タスク スケジューラ" if node.texts.ja else "Task Scheduler"  # ja assumed


def sc(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    """``sc query|qc Schedule`` and ``sc config Schedule start= auto|demand|disabled``."""
    if len(argv) < 2:
        return node.not_simulated_result("sc " + tail)
    verb, service = argv[0].lower(), argv[1]
    if service.lower() != "schedule":
        return node.not_simulated_result(f"sc {verb} for the service {service!r} (only Schedule is modelled)")
    if verb == "query" and len(argv) == 2:
        running = node.schedule_running
        state = "4  RUNNING" if running else "1  STOPPED"
        flags = (
            "(STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)"
            if running
            else "(NOT_STOPPABLE, NOT_PAUSABLE, IGNORES_SHUTDOWN)"
        )
        return ToolResult(
            0,
            lines(
                "",
                "SERVICE_NAME: Schedule",
                "        TYPE               : 20  WIN32_SHARE_PROCESS",
                f"        STATE              : {state}",
                f"                                {flags}",
                "        WIN32_EXIT_CODE    : 0  (0x0)",
                "        SERVICE_EXIT_CODE  : 0  (0x0)",
                "        CHECKPOINT         : 0x0",
                "        WAIT_HINT          : 0x0",
                "",
            ),
        )
    if verb == "qc" and len(argv) == 2:
        num, word = _START.get(node.schedule_start_mode, ("2", "AUTO_START"))
        return ToolResult(
            0,
            lines(
                node.texts.t("sc.qc_ok"),
                "",
                "SERVICE_NAME: Schedule",
                "        TYPE               : 20  WIN32_SHARE_PROCESS",
                f"        START_TYPE         : {num:<3} {word}",
                "        ERROR_CONTROL      : 1   NORMAL",
                f"        BINARY_PATH_NAME   : {node.system32}\\svchost.exe -k netsvcs",
                "        LOAD_ORDER_GROUP   : SchedulerGroup",
                "        TAG                : 0",
                f"        DISPLAY_NAME       : {_display(node)}",
                "        DEPENDENCIES       : RpcSs",
                "        SERVICE_START_NAME : LocalSystem",
            ),
        )
    if verb == "config" and len(argv) == 4 and argv[2].lower() == "start=":
        mode = {"auto": "Auto", "demand": "Manual", "disabled": "Disabled"}.get(argv[3].lower())
        if mode is None:
            return node.not_simulated_result("sc config Schedule start= " + argv[3])
        node.schedule_start_mode = mode
        return ToolResult(0, lines(node.texts.t("sc.config_ok")))
    return node.not_simulated_result("sc " + tail)


def net(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    """``net start Schedule`` (also ``"Task Scheduler"``) and ``net stop Schedule``."""
    if len(argv) != 2 or argv[0].lower() not in ("start", "stop"):
        return node.not_simulated_result("net " + tail)
    verb, service = argv[0].lower(), argv[1].lower()
    t = node.texts
    if service not in ("schedule", "task scheduler"):
        return node.not_simulated_result(f"net {verb} {argv[1]} (only the Schedule service is modelled)")
    display = _display(node)
    if verb == "start":
        if node.schedule_running:
            return ToolResult(2, err=lines(t.t("net.already")))
        if node.schedule_start_mode == "Disabled":
            return ToolResult(2, err=lines(t.t("net.disabled")))
        node.schedule_state = "Running"
        now = node.time.local()
        for task in node.scheduler.tasks.values():  # runs missed while stopped are not caught up
            task.fired_until = max(task.fired_until or now, now)
        return ToolResult(0, lines(t.t("net.starting", display=display), t.t("net.started", display=display)))
    if not node.schedule_running:
        return ToolResult(
            2,
            err=lines(
                "The " + display + " service is not started.",
                "",
                "More help is available by typing NET HELPMSG 3521.",
            ),
        )
    node.schedule_state = "Stopped"
    return ToolResult(
        0, lines(f"The {display} service is stopping.", f"The {display} service was stopped successfully.")
    )


_WIN32_SYM = {
    2: "ERROR_FILE_NOT_FOUND",
    3: "ERROR_PATH_NOT_FOUND",
    5: "ERROR_ACCESS_DENIED",
    80: "ERROR_FILE_EXISTS",
}


def certutil(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    """``certutil [-f] -encode|-decode <in> <out>`` (base64 with BEGIN/END CERTIFICATE lines)."""
    t = node.texts
    force = False
    args = list(argv)
    if args and args[0].lower() in ("-f", "/f"):
        force = True
        args = args[1:]
    if len(args) != 3 or args[0].lower() not in ("-decode", "/decode", "-encode", "/encode"):
        return node.not_simulated_result("certutil " + tail)
    verb = "-" + args[0][1:].lower()
    src, dst = args[1], args[2]

    def failed(code: int) -> ToolResult:
        hr = 0x80070000 + code
        return ToolResult(
            hr - 0x100000000,
            lines(
                t.t(
                    "certutil.failed",
                    verb=verb,
                    hr=f"0x{hr:08x}",
                    code=code,
                    sym=_WIN32_SYM.get(code, ""),
                    text=t.t(f"win.{code}"),
                )
            ),
        )

    try:
        raw = node.fs.read_bytes(src, proc.cwd)
    except FsError as exc:
        return failed(exc.winerror if exc.winerror in (2, 3, 5) else 2)
    if verb == "-decode":
        text = raw.decode("ascii", errors="replace")
        body = "".join(line.strip() for line in text.splitlines() if not line.startswith("-----"))
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return ToolResult(-2146893819, lines(t.t("certutil.bad_data")))
    else:
        b64 = base64.b64encode(raw).decode("ascii")
        body_lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
        data = (
            "\r\n".join(["-----BEGIN CERTIFICATE-----", *body_lines, "-----END CERTIFICATE-----"]) + "\r\n"
        ).encode("ascii")
    if node.fs.exists(dst, proc.cwd) and not force:
        return failed(80)
    try:
        node.fs.write_bytes(dst, data, proc.cwd, mtime=node.clock.now())
    except FsError as exc:
        return failed(exc.winerror if exc.winerror in (2, 3, 5) else 3)
    return ToolResult(
        0,
        lines(
            t.t("certutil.in_len", n=len(raw)),
            t.t("certutil.out_len", n=len(data)),
            t.t("certutil.ok", verb=verb),
        ),
    )


def clpstat(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    """``clpstat`` / ``clpstat -s``: the CLUSTER STATUS frame; ``current :`` names the owner."""
    if argv and [a.lower() for a in argv] != ["-s"]:
        return node.not_simulated_result("clpstat " + tail)
    return ToolResult(0, clpstat_text(node))


def clpstat_text(node: SimulatedWindows) -> str:
    """The text ``clpstat`` prints on this node."""
    info = node.cluster
    if info is None:
        return ""
    owner = info.owner()

    def dotted(prefix: str, name: str, state: str) -> str:
        dots = max(1, 21 - len(prefix) - len(name) - 1)
        return f"{prefix}{name} {'.' * dots}: {state}"

    out = [
        " ========================  CLUSTER STATUS  ===========================",
        f"  Cluster : {info.name}",
        "  <server>",
    ]
    for n in info.nodes:
        local = n.lower() == node.name.lower()
        out.append(dotted("   *" if local else "    ", n, "Online"))
        out.append(f"      {'lankhb1':<15}: {'Normal':<17}LAN Heartbeat")
    out.append("  <group>")
    out.append(dotted("    ", info.group, "Online" if owner else "Offline"))
    out.append(f"      {'current':<15}: {owner}")
    for r in info.resources:
        out.append(f"      {r:<15}: {'Online' if owner else 'Offline'}")
    out.append("  <monitor>")
    for m in ("sdw1", "userw"):
        out.append(f"    {m:<17}: Normal")
    out.append(" =====================================================================")
    return lines(*out)


# OS-3: the exact feature-install commands clpbackup sends with install_features=True
# (Platform.install_command); any other PowerShell command line is not simulated. Kept here, not
# asked of the platform: the simulator judges what clpbackup sends by what each OS accepts.
_WSB_INSTALL_SCRIPTS = {
    "2008R2": "Import-Module ServerManager; Add-WindowsFeature Backup-Features -IncludeAllSubFeature",
    "2012": "Install-WindowsFeature Windows-Server-Backup",
}


def servermanagercmd(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    """``ServerManagerCmd -install Backup-Features`` (Windows Server 2008, OS-3)."""
    if node.os != "2008" or [a.lower() for a in argv] != ["-install", "backup-features"]:
        return node.not_simulated_result("ServerManagerCmd " + tail)
    node.install_wsb()
    return ToolResult(
        0,
        lines(
            "Start Installation...",
            "[Installation] Succeeded: [Windows Server Backup Features].",
            "Success: Installation succeeded.",
        ),
    )  # en assumed


_ONCE_MARKER = "# clpbackup-op: schedule-once v1"
_ENCODED = ["-noprofile", "-noninteractive", "-encodedcommand"]
_PS_VALUE = re.compile(r"^\$(name|at|path|arguments) = '((?:[^']|'')*)'\r?$", re.MULTILINE)


def _schedule_once(node: SimulatedWindows, proc: Proc, script: str) -> ToolResult:
    """clpbackup's schedule-once script (platforms/base.py ``once_script``), by its marker: what it
    asks of Task Scheduler 2.0 -- a task with one TimeTrigger at the next occurrence of ``$at`` on
    the node's clock, registered as SYSTEM. Only the Windows side is modelled here; the script's
    PowerShell 2.0 syntax is checked by the tests, not run."""
    values = {k: v.replace("''", "'") for k, v in _PS_VALUE.findall(script)}
    if set(values) != {"name", "at", "path", "arguments"}:
        return node.not_simulated_result("powershell: a schedule-once script without its four values")
    if node.os == "2003":
        # Task Scheduler 1.0: the Schedule.Service COM class does not exist (REGDB_E_CLASSNOTREG)
        return ToolResult(
            1,
            err=lines(
                "FO-2: Retrieving the COM class factory for component with CLSID "
                "{0F87369F-A4E5-4CFC-BD3E-73E6154572DD} failed due to the following error: 80040154."
            ),
        )  # en assumed
    if not node.schedule_running:
        stopped = "FO-2: The service has not been started. (Exception from HRESULT: 0x80070426)"
        return ToolResult(1, err=lines(stopped))  # en assumed
    hour, _, minute = values["at"].partition(":")
    now = node.time.local()
    start = now.replace(hour=int(hour), minute=int(minute), second=0, microsecond=0)
    if start <= now:
        start += timedelta(days=1)
    node.scheduler.register_once(
        values["name"], start, values["path"] + " " + values["arguments"], author=node.qualified(proc.user)
    )
    return ToolResult(0, lines(f"SUCCESS: {values['name']} {start.strftime('%Y-%m-%dT%H:%M:%S')}"))


def powershell(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    """``powershell -NoProfile -Command <feature install>`` (2008 R2 / 2012, OS-3), and
    ``powershell -NoProfile -NonInteractive -EncodedCommand <clpbackup's schedule-once script>``."""
    if len(argv) == 4 and [a.lower() for a in argv[:3]] == _ENCODED:
        try:
            encoded = base64.b64decode(argv[3], validate=True).decode("utf-16-le")
        except (binascii.Error, UnicodeDecodeError):
            bad = "Cannot process the command because the value of -EncodedCommand is not base64."
            return ToolResult(1, err=lines(bad))  # en assumed
        if encoded.startswith(_ONCE_MARKER + "\n"):
            return _schedule_once(node, proc, encoded)
        from clpbackup.testing.model.eventlog import EVENTS_MARKER, events_script

        if encoded.startswith(EVENTS_MARKER + "\n"):
            return events_script(node, proc, encoded)
        return node.not_simulated_result("powershell -EncodedCommand (a script clpbackup does not send)")
    script = _WSB_INSTALL_SCRIPTS.get(node.family)
    if (
        script is None
        or [a.lower() for a in argv[:2]] != ["-noprofile", "-command"]
        or " ".join(argv[2:]) != script
    ):
        return node.not_simulated_result("powershell " + tail)
    node.install_wsb()
    return ToolResult(
        0,
        lines(
            "",
            "Success Restart Needed Exit Code      Feature Result",
            "------- -------------- ---------      --------------",
            "True    No             Success        {Windows Server Backup}",
        ),
    )  # en assumed
