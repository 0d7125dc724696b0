"""WinrsSession against a fake pypsrp WinRS/Process that answers like a 2003 node's cmd.exe.

The fake node understands exactly the command lines listed in docs/design.md ("WinRS command set")
— the templates are read from the document and turned into patterns — plus native programs; any
other line fails the test. So the document and the code cannot drift apart.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from pypsrp.exceptions import AuthenticationError
from pypsrp.shell import CommandState

from clpbackup.commands import Command
from clpbackup.errors import AuthenticationFailed, ConnectionFailed, NodeTimeout, ParseError, QuotingError
from clpbackup.plan import Plan
from clpbackup.transport import open_session, winrs
from clpbackup.transport.retry import RetryPolicy
from clpbackup.transport.types import ApplyRequest, FileWrite, InspectRequest
from clpbackup.transport.winrs import CHUNK, WinrsSession, cmd_command_line

PASSWORD = "W1nrs-Secret#"
ENV = "CLPB_WINRS_PASSWORD"
DESIGN = Path(__file__).resolve().parents[2] / "docs" / "design.md"


def documented_patterns() -> list[re.Pattern[str]]:
    text = DESIGN.read_text(encoding="utf-8")
    section = text[text.index("### WinRS command set") :]
    block = section[section.index("```\n") + 4 :]
    block = block[: block.index("```")]
    fills = {
        "<p>": r'[^"&<>()@^|%!]+',
        "<dir>": r'[^"&<>()@^|%!]+',
        "<X>": r"[A-Z]",
        "<tag>": r"[0-9a-f]{8}",
        "<base64>": r"[A-Za-z0-9+/=]{1,6000}",
    }
    patterns = []
    for template in block.strip().splitlines():
        if template == "<command line>":
            continue
        assert not re.search(r"<(?!p>|dir>|X>|tag>|base64>)[A-Za-z ]+>", template), template
        rx = re.escape(template)
        for key, value in fills.items():
            rx = rx.replace(re.escape(key), value)
        patterns.append(re.compile(rx + "$"))
    return patterns


PATTERNS = documented_patterns()


def make_plan(codepage: int = 437, **connection: Any) -> Plan:
    conn = {
        "transport": "winrs",
        "auth": "ntlm",
        "username": "EXAMPLE\\backup",
        "password": {"env": ENV},
        "codepage": codepage,
        **connection,
    }
    return Plan.from_dict(
        {
            "cluster": {"name": "old-db", "failover_group": "failover1", "switchover_volumes": ["E:"]},
            "nodes": [
                {"name": "node-a", "host": "192.0.2.21", "os": "2003", "home": True},
                {"name": "node-b", "host": "192.0.2.22", "os": "2003"},
            ],
            "connection": conn,
            "scripts_dir": "C:\\clpbackup",
            "jobs": {
                "local-daily": {
                    "scope": "local",
                    "include": ["C:\\data"],
                    "daily_at": "01:00",
                    "ntbackup": {"file": "D:\\backup\\local.bkf"},
                }
            },
        }
    )


# -- a fake 2003 node behind a fake WinRS -------------------------------------------------------------


class FakeNode:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = {"c:", "c:\\clpbackup", "c:\\windows\\temp"}
        self.volumes = {"C": True, "D": True, "E": False}
        self.readonly_volumes: set[str] = set()
        self.codepage = 437
        self.version = "5.2.3790"
        self.hang: set[str] = set()
        self.native: dict[str, tuple[int, bytes, bytes]] = {}
        self.lines: list[str] = []

    def expand(self, text: str) -> str:
        return text.replace("%TEMP%", "C:\\WINDOWS\\Temp").replace("%SystemRoot%", "C:\\WINDOWS")

    def run(self, line: str) -> tuple[int, bytes, bytes]:
        self.lines.append(line)
        enc = f"cp{self.codepage}"
        documented = any(p.match(line) for p in PATTERNS)
        s = self.expand(line)
        if line == "ver":
            return 0, f"\r\nMicrosoft Windows [Version {self.version}]\r\n".encode(enc), b""
        if line == "hostname":
            return 0, b"NODE-A\r\n", b""
        if line == "chcp":
            text = "Active code page: 437\r\n" if self.codepage == 437 else "現在のコード ページ: 932\r\n"
            return 0, text.encode(enc), b""
        if line == "sc qc Schedule":
            return (
                0,
                (
                    b"[SC] QueryServiceConfig SUCCESS\r\n\r\nSERVICE_NAME: Schedule\r\n"
                    b"        TYPE               : 20  WIN32_SHARE_PROCESS\r\n"
                    b"        START_TYPE         : 3   DEMAND_START\r\n"
                ),
                b"",
            )
        if line == "sc query Schedule":
            return 0, b"\r\nSERVICE_NAME: Schedule\r\n        STATE              : 1  STOPPED\r\n", b""
        m = re.match(r'if exist (?:"([^"]+)"|([A-Z]):\\) echo yes$', s)
        if m and documented:
            if m.group(2):
                found = self.volumes.get(m.group(2), False)
            else:
                p = m.group(1).rstrip("\\").lower()
                found = p in self.files or p in self.dirs
            return 0, b"yes\r\n" if found else b"", b""
        m = re.match(r'echo clpbackup>"([A-Z]):\\(\.clpbackup-probe-[0-9a-f]{8})"$', s)
        if m and documented:
            if m.group(1) in self.readonly_volumes:
                return 1, b"", b"Access is denied.\r\n"
            self.files[f"{m.group(1)}:\\{m.group(2)}".lower()] = b"clpbackup\r\n"
            return 0, b"", b""
        m = re.match(r'(?:if exist "([^"]+)" )?del /q "([^"]+)"$', s)
        if m and documented:
            self.files.pop(m.group(2).lower(), None)
            return 0, b"", b""
        m = re.match(r'certutil -f -encode "([^"]+)" "([^"]+)"$', s)
        if m and documented:
            data = self.files.get(m.group(1).lower())
            if data is None:
                return -2147024894, b"CertUtil: -encode command FAILED\r\n", b""
            body = base64.b64encode(data).decode()
            lines = [body[i : i + 64] for i in range(0, len(body), 64)]
            text = (
                "-----BEGIN CERTIFICATE-----\r\n" + "\r\n".join(lines) + "\r\n-----END CERTIFICATE-----\r\n"
            )
            self.files[m.group(2).lower()] = text.encode()
            return (
                0,
                b"Input Length = 1\r\nOutput Length = 2\r\n"
                b"CertUtil: -encode command completed successfully.\r\n",
                b"",
            )
        m = re.match(r'type "([^"]+)"$', s)
        if m and documented:
            return 0, self.files[m.group(1).lower()], b""
        m = re.match(r'if not exist "([^"]+)\\" mkdir "([^"]+)"$', s)
        if m and documented:
            self.dirs.add(m.group(2).lower())
            return 0, b"", b""
        m = re.match(r'(>>?)"([^"]+)" echo (.+)$', s)
        if m and documented:
            key = m.group(2).lower()
            old = self.files.get(key, b"") if m.group(1) == ">>" else b""
            self.files[key] = old + m.group(3).encode() + b"\r\n"
            return 0, b"", b""
        m = re.match(r'certutil -f -decode "([^"]+)" "([^"]+)"$', s)
        if m and documented:
            text = self.files[m.group(1).lower()].decode()
            self.files[m.group(2).lower()] = base64.b64decode("".join(text.split()))
            return 0, b"CertUtil: -decode command completed successfully.\r\n", b""
        m = re.match(r'type nul>"([^"]+)"$', s)
        if m and documented:
            self.files[m.group(1).lower()] = b""
            return 0, b"", b""
        m = re.match(r'move /y "([^"]+)" "([^"]+)"$', s)
        if m and documented:
            self.files[m.group(2).lower()] = self.files.pop(m.group(1).lower())
            return 0, b"        1 file(s) moved.\r\n", b""
        # a native command
        assert not documented or line == "clpstat", f"documented line not modelled: {line}"
        program = line.split(" ", 1)[0]
        if program in self.native:
            return self.native[program]
        if program == "exitwith":
            rc = int(line.split()[-1])
            return rc, f"out {rc}\r\n".encode(), b"bad\r\n" if rc else b""
        if program == "echoargs":
            return 0, line.encode(enc), b""
        raise AssertionError(f"undocumented WinRS command line: {line!r}")


class FakeShell:
    instances: ClassVar[list[FakeShell]] = []
    node: ClassVar[FakeNode]
    open_errors: ClassVar[list[BaseException]] = []

    def __init__(self, wsman: Any, **kwargs: Any) -> None:
        self.wsman = wsman
        self.opened = 0
        self.closed = 0
        FakeShell.instances.append(self)

    def open(self) -> None:
        self.opened += 1
        if FakeShell.open_errors:
            raise FakeShell.open_errors.pop(0)

    def close(self) -> None:
        self.closed += 1


class FakeProcess:
    instances: ClassVar[list[FakeProcess]] = []

    def __init__(self, shell: FakeShell, executable: str, arguments: Any = None) -> None:
        assert arguments is None
        self.shell = shell
        self.line = executable
        self.state = CommandState.PENDING
        self.rc: int | None = None
        self.stdout = b""
        self.stderr = b""
        self.signals: list[str] = []
        self.polls: list[int | None] = []
        FakeProcess.instances.append(self)

    def begin_invoke(self) -> None:
        self.state = CommandState.RUNNING

    def poll_invoke(self, timeout: int | None = None) -> None:
        self.polls.append(timeout)
        node = FakeShell.node
        if any(self.line.startswith(h) for h in node.hang):
            if FakeProcess.clock is not None:
                FakeProcess.clock.now += timeout or 0
            return
        self.rc, self.stdout, self.stderr = node.run(self.line)
        self.state = CommandState.DONE

    def signal(self, code: str) -> None:
        self.signals.append(code)

    clock: ClassVar[Any] = None


class FakeWSMan:
    instances: ClassVar[list[FakeWSMan]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        FakeWSMan.instances.append(self)

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def node(mocker: Any, monkeypatch: pytest.MonkeyPatch) -> FakeNode:
    monkeypatch.setenv(ENV, PASSWORD)
    FakeShell.instances, FakeProcess.instances, FakeWSMan.instances = [], [], []
    FakeShell.open_errors = []
    FakeProcess.clock = None
    FakeShell.node = FakeNode()
    mocker.patch.object(winrs, "WinRS", FakeShell)
    mocker.patch.object(winrs, "Process", FakeProcess)
    mocker.patch.object(winrs, "WSMan", FakeWSMan)
    mocker.patch("clpbackup.transport.psrp.WSMan", FakeWSMan)  # open_wsman builds it from there
    return FakeShell.node


def session(plan: Plan | None = None, attempts: int = 1, sleeps: list[float] | None = None) -> WinrsSession:
    s = open_session(
        plan or make_plan(),
        "node-a",
        retry=RetryPolicy(attempts=attempts, sleep=(sleeps if sleeps is not None else []).append),
    )
    assert isinstance(s, WinrsSession)
    return s


# -- tests ----------------------------------------------------------------------------------------


def test_the_document_lists_the_commands() -> None:
    assert len(PATTERNS) >= 20
    assert any(p.match("ver") for p in PATTERNS) and not any(p.match("dir C:\\") for p in PATTERNS)


def test_facts_of_a_2003_node_from_cmd_tools(node: FakeNode) -> None:
    node.readonly_volumes.add("D")
    s = session()
    facts = s.inspect(InspectRequest(probe_volumes=["E:", "D:"], scripts_dir="C:\\clpbackup")).facts
    assert facts is not None
    assert (facts.hostname, facts.os_version, facts.os, facts.os_caption) == (
        "NODE-A",
        "5.2.3790",
        "2003",
        "Microsoft Windows Server 2003",
    )
    assert facts.ps_version is None and facts.wsb_installed is None and facts.oem_codepage == 437
    assert (facts.schedule_start_mode, facts.schedule_state) == ("Manual", "Stopped")
    assert facts.scripts_dir_exists is True
    assert [(v.letter, v.present, v.writable) for v in facts.volumes] == [
        ("C:", True, True),
        ("E:", False, False),
        ("D:", True, False),
    ]
    # The probe file was removed again; one shell served every command.
    assert not any(".clpbackup-probe" in k for k in node.files)
    assert len(FakeShell.instances) == 1 and len(FakeProcess.instances) == len(node.lines)
    assert all(
        p.signals == ["http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/Terminate"]
        for p in FakeProcess.instances
    )
    assert not any("wbadmin" in line for line in node.lines)  # 2003: no WSB check


def test_wsb_is_checked_on_version_6(node: FakeNode) -> None:
    node.version = "6.0.6002"
    facts = session().facts()
    assert facts.wsb_installed is False and facts.os == "2008"
    assert 'if exist "%SystemRoot%\\system32\\wbadmin.exe" echo yes' in node.lines


def test_write_read_round_trip_in_chunks_and_skip_when_equal(node: FakeNode) -> None:
    s = session()
    data = bytes(range(256)) * 40  # 10 KiB -> more than one echo chunk
    assert len(base64.b64encode(data)) > CHUNK
    assert s.write_file("C:\\clpbackup\\sub\\job.bks", data) is True
    assert node.files["c:\\clpbackup\\sub\\job.bks"] == data
    assert "c:\\clpbackup\\sub" in node.dirs
    echoes = [ln for ln in node.lines if " echo " in ln and ln.startswith(">")]
    assert len(echoes) == -(-len(base64.b64encode(data)) // CHUNK) == 3
    assert echoes[0].startswith('>"') and all(e.startswith('>>"') for e in echoes[1:])
    assert not any(k.endswith((".clpbackup-tmp", ".clpbackup-b64", ".b64")) for k in node.files)
    node.lines.clear()
    assert s.write_file("C:\\clpbackup\\sub\\job.bks", data) is False
    assert not any("echo" in ln and ln.startswith(">") for ln in node.lines)  # nothing was rewritten
    assert s.read_file("C:\\clpbackup\\sub\\job.bks") == data
    assert s.file_hash("C:\\clpbackup\\sub\\job.bks") == hashlib.sha256(data).hexdigest()
    assert s.read_file("C:\\clpbackup\\none.bat") is None
    assert (
        s.write_file("C:\\clpbackup\\empty.txt", b"") is True
        and node.files["c:\\clpbackup\\empty.txt"] == b""
    )
    assert s.delete_file("C:\\clpbackup\\sub\\job.bks") is True
    assert s.delete_file("C:\\clpbackup\\sub\\job.bks") is False


def test_commands_mixed_exit_codes_and_stop_on_error(node: FakeNode) -> None:
    s = session()
    res = s.run([["exitwith", "0"], ["exitwith", "2"], ["exitwith", "0"]])
    assert [(r.rc, r.ran) for r in res] == [(0, True), (2, True), (0, True)]
    assert res[1].stderr == "bad\r\n" and res[1].stdout == "out 2\r\n"
    stopped = s.run([["exitwith", "1"], ["exitwith", "0"]], stop_on_error=True)
    assert [(r.rc, r.ran) for r in stopped] == [(1, True), (None, False)]


def test_command_lines_are_escaped_for_cmd_and_percent_is_refused(node: FakeNode) -> None:
    s = session()
    assert cmd_command_line(["echoargs", "a&b", "c d&e"]) == 'echoargs a^&b "c d&e"'
    assert (
        cmd_command_line(Command(("rsm", "refresh"), "2003", raw_tail='refresh /LF"Lib (1)"'))
        == 'rsm refresh /LF"Lib (1)"'
    )
    out = s.run([["echoargs", "x>y"]])[0]
    assert out.stdout == "echoargs x^>y"
    before = len(node.lines)
    with pytest.raises(QuotingError, match="expands"):
        s.run([["exitwith", "0"], ["echoargs", "%PATH%"]])
    assert len(node.lines) == before  # refused before anything ran


def test_paths_cmd_would_reinterpret_are_refused(node: FakeNode) -> None:
    with pytest.raises(QuotingError):
        session().write_file("C:\\a&b\\x.bat", b"x")
    assert not any(ln.startswith(">") for ln in node.lines)


def test_cp932_output_is_decoded_with_the_plan_codepage(node: FakeNode) -> None:
    node.codepage = 932
    node.native["schtasks"] = (0, "タスク名: clpbackup\r\n".encode("cp932"), b"")
    s = session(make_plan(codepage=932))
    assert s.facts().oem_codepage == 932
    assert s.run([["schtasks", "/query"]], read_only=True)[0].stdout == "タスク名: clpbackup\r\n"


def test_undecodable_output_is_a_parse_error_about_the_codepage(node: FakeNode) -> None:
    node.native["schtasks"] = (0, b"\x81\x20broken", b"")
    with pytest.raises(ParseError) as info:
        session(make_plan(codepage=932)).run([["schtasks", "/query"]])
    assert "code page 932" in str(info.value) and "connection.codepage" in str(info.value)
    assert info.value.node == "node-a"


def test_a_command_past_its_timeout_is_stopped(node: FakeNode) -> None:
    clock = Clock()
    FakeProcess.clock = clock
    node.hang.add("ping")
    s = session(make_plan(deadline=600))
    s._clock = clock
    res = s.run([["ping", "-n", "999", "127.0.0.1"], ["exitwith", "0"]], timeout=40)
    assert res[0].rc is None and "stopped after 40 seconds" in res[0].stderr
    assert res[1].rc == 0
    assert FakeProcess.instances[0].signals  # terminated


def test_past_the_deadline_node_timeout(node: FakeNode) -> None:
    clock = Clock()
    FakeProcess.clock = clock
    node.hang.add("ping")
    s = session(make_plan(deadline=30, operation_timeout=20, read_timeout=30))
    s._clock = clock
    with pytest.raises(NodeTimeout, match=r"\[node-a\].*deadline of 30 s"):
        s.run([["ping", "-n", "999", "127.0.0.1"]])
    assert FakeProcess.instances[-1].polls == [20, 10] and FakeProcess.instances[-1].signals
    assert not s.is_open


def test_shell_open_errors_are_typed_and_reads_retried(node: FakeNode) -> None:
    FakeShell.open_errors = [requests.exceptions.ConnectionError("refused")]
    sleeps: list[float] = []
    s = session(attempts=3, sleeps=sleeps)
    assert s.facts().hostname == "NODE-A"
    assert len(sleeps) == 1 and len(FakeShell.instances) == 2
    FakeShell.open_errors = [AuthenticationError("Failed to authenticate the user EXAMPLE\\backup with ntlm")]
    s2 = session(attempts=3, sleeps=sleeps)
    with pytest.raises(AuthenticationFailed) as info:
        s2.facts()
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(s2)
    FakeShell.open_errors = [requests.exceptions.ConnectionError("refused")] * 5
    with pytest.raises(ConnectionFailed, match="cannot connect"):
        session(attempts=2, sleeps=sleeps).apply(
            ApplyRequest(writes=[FileWrite("C:\\clpbackup\\a.bat", b"x")])
        )


def test_close_deletes_the_shell(node: FakeNode) -> None:
    s = session()
    s.facts()
    s.close()
    s.close()
    assert FakeShell.instances[0].closed == 1 and not s.is_open
