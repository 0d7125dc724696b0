"""PsrpSession end to end: real pypsrp over real HTTP(S) on 127.0.0.1, against the simulator.

Two harnesses run the same scenarios:

* ``wire`` — one :class:`~clpbackup.testing.server.WinRMServer` per node in front of
  :class:`TwinBackend` below, a small Python twin of the ``inspect``/``apply`` operations with a
  handful of test programs (``exitwith``, ``emit``, ``sleep``, ``jtext``). It checks the transport
  itself: authentication, encryption, protocol versions, request counts, faults, deadlines.
* ``sim`` — :class:`clpbackup.testing.SimulatedCluster` (the full node model) as documented in the
  brief: ``SimulatedCluster.from_plan(plan, ssl=…, protocol_versions=…)``, ``sim.plan``,
  ``sim.node(name).inject(fault, at=k)``. It is used as soon as it exists (until then its cases
  are skipped with that reason).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest

from clpbackup.errors import AuthenticationFailed, ConnectionFailed, NodeTimeout
from clpbackup.plan import Plan
from clpbackup.testing.backend import ScriptOutcome, current_cancel_event
from clpbackup.testing.server import WinRMServer
from clpbackup.transport import open_session, remote_ops
from clpbackup.transport.psrp import PsrpSession
from clpbackup.transport.retry import RetryPolicy
from clpbackup.transport.types import ApplyRequest, FileWrite, InspectRequest

pytestmark = pytest.mark.e2e

USER = "EXAMPLE\\backup-admin"
PASSWORD = "S3cret:pass w0rd"
ENV = "CLPB_E2E_PASSWORD"

PROTOCOL = {"2003": ("2.1", "2.0"), "2008": ("2.1", "2.0"), "2008R2": ("2.1", "2.0"), "2012": ("2.2", "3.0")}
VERSION = {"2003": "5.2.3790", "2008": "6.0.6002", "2008R2": "6.1.7601", "2012": "6.2.9200"}


def make_plan(os: str = "2012", codepage: int = 437, **connection: Any) -> Plan:
    conn = {"auth": "ntlm", "username": USER, "password": {"env": ENV}, "codepage": codepage, **connection}
    return Plan.from_dict(
        {
            "cluster": {"name": "prod-db", "failover_group": "failover1", "switchover_volumes": ["E:"]},
            "nodes": [
                {"name": "node-a", "host": "192.0.2.11", "os": os, "home": True},
                {"name": "node-b", "host": "192.0.2.12", "os": os},
            ],
            "connection": conn,
            "scripts_dir": "C:\\clpbackup",
            "jobs": {
                "local-daily": {
                    "scope": "local",
                    "include": ["C:\\data"],
                    "target": "\\\\nas01\\backup\\{node}",
                    "daily_at": "01:00",
                }
            },
        }
    )


# -- the wire harness's node: a Python twin of the two operations ------------------------------------


@dataclass
class TwinBackend:
    """A node for transport tests: files in a dict, the two operations, a few test programs."""

    name: str
    protocol_version: str = "2.3"
    ps_version: str = "4.0"
    codepage: int = 437
    os_version: str = "6.2.9200"
    files: dict[str, bytes] = field(default_factory=dict)
    scripts: list[str] = field(default_factory=list)

    def invoke_script(self, script: str, parameters: dict[str, Any], input: list[Any]) -> ScriptOutcome:
        m = remote_ops.MARKER.match(script.splitlines()[0])
        assert m is not None, "only clpbackup's remote operations are sent"
        op = remote_ops.load(m.group("name"))
        assert script == op.text  # the text is never modified: values came as parameters
        self.scripts.append(op.name)
        return ScriptOutcome(output=[getattr(self, "_" + op.name)(parameters)], errors=[])

    def _native(self, program: str, arguments: str, codepage: int) -> tuple[int | None, str, str]:
        enc = f"cp{codepage or self.codepage}"
        node_enc = f"cp{self.codepage}"

        def text(data: bytes) -> str:
            return data.decode(enc, errors="replace")

        if program == "exitwith":
            rc = int(arguments)
            return rc, f"exit {rc}\r\n", (f"failed with {rc}\r\n" if rc else "")
        if program == "emit":
            return 0, text(arguments.encode(node_enc) + b"\r\n"), text(b"to stderr\r\n")
        if program == "jtext":  # a ja-JP tool: its output bytes are in the node's OEM code page
            return 0, text("タスク名: バックアップ\r\n".encode(node_enc)), ""
        if program == "sleep":
            if current_cancel_event().wait(float(arguments)):
                return None, "", "cancelled"
            return 0, "", ""
        return 9009, "", f"The system cannot find the file specified ({program})"

    def _commands(self, p: dict[str, Any], *, stop: bool = False) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        failed = False
        for i, (prog, args) in enumerate(zip(p["Programs"], p["Arguments"], strict=True)):
            if stop and failed:
                out.append(
                    {
                        "index": i,
                        "program": prog,
                        "arguments": args,
                        "rc": None,
                        "stdout": "",
                        "stderr": "",
                        "ran": False,
                    }
                )
                continue
            rc, so, se = self._native(prog, args, p["CodePage"])
            failed = failed or rc != 0
            out.append(
                {
                    "index": i,
                    "program": prog,
                    "arguments": args,
                    "rc": rc,
                    "stdout": so,
                    "stderr": se,
                    "ran": True,
                }
            )
        return out

    def _inspect(self, p: dict[str, Any]) -> dict[str, Any]:
        facts = None
        if p["WantFacts"]:
            facts = {
                "hostname": self.name.upper(),
                "os_version": self.os_version,
                "os_caption": "Windows Server",
                "ps_version": self.ps_version,
                "oem_codepage": self.codepage,
                "volumes": [
                    {"letter": v, "present": v == "C:", "writable": v == "C:"}
                    for v in ["C:", *p["ProbeVolumes"]]
                ],
                "schedule_start_mode": "Auto",
                "schedule_state": "Running",
                "wsb_installed": True,
                "scripts_dir_exists": p["ScriptsDir"].lower() in {k.rsplit("\\", 1)[0] for k in self.files}
                if p["ScriptsDir"]
                else None,
                "clpstat": None,
            }
        files = []
        for path in dict.fromkeys([*p["HashPaths"], *p["ReadPaths"]]):
            data = self.files.get(path.lower())
            files.append(
                {
                    "path": path,
                    "sha256": hashlib.sha256(data).hexdigest() if data is not None else None,
                    "content_base64": base64.b64encode(data).decode()
                    if data is not None and path in p["ReadPaths"]
                    else None,
                    "error": None,
                }
            )
        return {"op": "inspect", "version": 1, "facts": facts, "files": files, "commands": self._commands(p)}

    def _apply(self, p: dict[str, Any]) -> dict[str, Any]:
        files = []
        for path, content, digest in zip(p["WritePaths"], p["WriteContents"], p["WriteHashes"], strict=True):
            data = base64.b64decode(content)
            assert hashlib.sha256(data).hexdigest() == digest
            changed = self.files.get(path.lower()) != data
            self.files[path.lower()] = data
            files.append({"path": path, "changed": changed, "sha256": digest, "error": None})
        deleted = [d for d in p["DeletePaths"] if self.files.pop(d.lower(), None) is not None]
        return {
            "op": "apply",
            "version": 1,
            "files": files,
            "deleted": deleted,
            "commands": self._commands(p, stop=p["StopOnError"]),
        }

    def run_command_line(self, command_line: str) -> tuple[int, bytes, bytes]:
        raise AssertionError("the PSRP transport never uses WinRS")


# -- harnesses ------------------------------------------------------------------------------------------


class Harness:
    """What a scenario needs: a plan pointing at local endpoints, faults, request counts."""

    plan: Plan
    ok_command: tuple[str, ...]
    failing_command: tuple[str, ...]

    def inject(self, node: str, fault: str, at: int | None = 1, seconds: float = 5.0) -> None:
        raise NotImplementedError

    def requests(self, node: str) -> int:
        raise NotImplementedError


class WireHarness(Harness):
    ok_command = ("exitwith", "0")
    failing_command = ("exitwith", "3")

    def __init__(
        self,
        stack: ExitStack,
        plan: Plan,
        *,
        ssl: bool = False,
        protocol_versions: dict[str, str] | None = None,
        password: str = PASSWORD,
    ) -> None:
        self.servers: dict[str, WinRMServer] = {}
        self.backends: dict[str, TwinBackend] = {}
        endpoints: dict[str, dict[str, Any]] = {}
        for node in plan.nodes:
            proto, ps = PROTOCOL[node.os]
            if protocol_versions and node.name in protocol_versions:
                proto = protocol_versions[node.name]
                ps = {"2.1": "2.0", "2.2": "3.0", "2.3": "4.0"}[proto]
            backend = TwinBackend(node.name, proto, ps, plan.codepage_for(node), VERSION[node.os])
            srv = stack.enter_context(WinRMServer(backend, username=USER, password=password, ssl=ssl))
            self.servers[node.name], self.backends[node.name] = srv, backend
            endpoint: dict[str, Any] = {"host": "127.0.0.1", "port": srv.port, "ssl": ssl}
            if ssl:
                endpoint["cert_validation"] = srv.ca_cert_path
            endpoints[node.name] = endpoint
        self.plan = plan.with_endpoints(endpoints)

    def inject(self, node: str, fault: str, at: int | None = 1, seconds: float = 5.0) -> None:
        self.servers[node].inject(fault, at=at, seconds=seconds)

    def requests(self, node: str) -> int:
        return self.servers[node].requests


class SimHarness(Harness):
    ok_command = ("hostname",)
    failing_command = ("schtasks", "/query", "/tn", "clpbackup-no-such-task")

    def __init__(
        self,
        stack: ExitStack,
        plan: Plan,
        *,
        ssl: bool = False,
        protocol_versions: dict[str, str] | None = None,
        password: str = PASSWORD,
    ) -> None:
        try:
            from clpbackup.testing import SimulatedCluster  # type: ignore[attr-defined]
        except ImportError:
            pytest.skip("clpbackup.testing.SimulatedCluster is not available yet (simulator in progress)")
        kwargs: dict[str, Any] = {"ssl": ssl}
        if protocol_versions:
            kwargs["protocol_versions"] = protocol_versions
        self.sim = stack.enter_context(SimulatedCluster.from_plan(plan, **kwargs))
        self.plan = self.sim.plan

    def inject(self, node: str, fault: str, at: int | None = 1, seconds: float = 5.0) -> None:
        self.sim.node(node).inject(fault, at=at, seconds=seconds)

    def requests(self, node: str) -> int:
        target = self.sim.node(node)
        counter = getattr(target, "requests", None)
        if counter is None:
            counter = target.server.requests
        return int(counter() if callable(counter) else counter)


Factory = Callable[..., Harness]


@pytest.fixture(params=["wire", "sim"])
def harness(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Factory]:
    monkeypatch.setenv(ENV, PASSWORD)
    kind = request.param
    with ExitStack() as stack:

        def factory(plan: Plan | None = None, **kwargs: Any) -> Harness:
            cls = WireHarness if kind == "wire" else SimHarness
            return cls(stack, plan or make_plan(), **kwargs)

        yield factory


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Factory]:
    monkeypatch.setenv(ENV, PASSWORD)
    with ExitStack() as stack:
        yield lambda plan=None, **kw: WireHarness(stack, plan or make_plan(), **kw)


def psrp(h: Harness, node: str = "node-a", attempts: int = 1, **conn: Any) -> PsrpSession:
    """A session for ``node``; ``conn`` overrides connection settings without plan validation
    (short timeouts keep the fault tests fast)."""
    retry = RetryPolicy(attempts=attempts, initial=0.05, max_wait=0.2, jitter=0.05)
    if not conn:
        s = open_session(h.plan, node, retry=retry)
        assert isinstance(s, PsrpSession)
        return s
    n = h.plan.node(node)
    connection = h.plan.connection_for(n).model_copy(update=conn)
    return PsrpSession(n.name, n.host, connection, retry=retry)


# -- scenarios -----------------------------------------------------------------------------------------


def test_ntlm_with_encryption_over_http_open_inspect_apply_close_is_seven_requests(harness: Factory) -> None:
    h = harness()
    before = h.requests("node-a")
    with psrp(h) as s:
        facts = s.inspect(InspectRequest(probe_volumes=["E:"], scripts_dir=h.plan.scripts_dir)).facts
        assert facts is not None and facts.os == "2012"
        res = s.apply(ApplyRequest(writes=[FileWrite(h.plan.scripts_dir + "\\hello.txt", b"hello\r\n")]))
        assert res.files[0].changed
    assert h.requests("node-a") - before == 7  # Create+Receive, Command+Receive, Command+Receive, Delete
    assert s.protocol_version == "2.2"


def test_basic_over_https(harness: Factory) -> None:
    h = harness(make_plan(auth="basic", username=USER, ssl=True), ssl=True)
    with psrp(h) as s:
        assert s.endpoint.startswith("https://127.0.0.1:")
        assert s.facts().hostname == "NODE-A"


def test_wrong_password_is_authentication_failed_without_the_password(
    harness: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness()
    monkeypatch.setenv(ENV, "wrong-" + PASSWORD)
    s = psrp(h, attempts=3)
    with pytest.raises(AuthenticationFailed) as info:
        s.facts()
    err = info.value
    assert err.node == "node-a" and "connection.auth" in (err.hint or "")
    for text in (str(err), repr(err), repr(s), str(err.__cause__ or "")):
        assert PASSWORD not in text


@pytest.mark.parametrize(("os", "override", "expected"), [("2008R2", None, "2.1"), ("2012", "2.3", "2.3")])
def test_protocol_versions(harness: Factory, os: str, override: str | None, expected: str) -> None:
    h = harness(make_plan(os=os), protocol_versions={"node-a": override} if override else None)
    with psrp(h) as s:
        facts = s.facts()
        assert s.protocol_version == expected
        assert facts.os == os
        assert s.write_file("C:\\clpbackup\\v.txt", b"v") is True


def test_a_one_megabyte_file_written_and_read_back(harness: Factory) -> None:
    h = harness()
    data = bytes((i * 7 + i // 251) % 256 for i in range(1024 * 1024))
    with psrp(h) as s:
        assert s.write_file("C:\\clpbackup\\big.bin", data) is True
        assert s.read_file("C:\\clpbackup\\big.bin") == data
        assert s.file_hash("C:\\clpbackup\\big.bin") == hashlib.sha256(data).hexdigest()
        assert s.write_file("C:\\clpbackup\\big.bin", data) is False


def test_a_batch_with_mixed_exit_codes_and_stderr_in_one_pipeline(harness: Factory) -> None:
    h = harness()
    with psrp(h) as s:
        s.facts()
        before = h.requests("node-a")
        results = s.run([h.ok_command, h.failing_command, h.ok_command])
        assert h.requests("node-a") - before == 2  # one Command + one Receive for all three
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].rc not in (0, None) and results[1].stderr.strip()
    assert results[0].stdout.strip()


def test_a_command_past_its_deadline_is_stopped(wire: Factory) -> None:
    h = wire()
    s = psrp(h, deadline=2, operation_timeout=1, read_timeout=3)
    started = time.monotonic()
    with pytest.raises(NodeTimeout, match=r"\[node-a\] apply did not finish within the deadline of 2 s"):
        s.run([["sleep", "30"]])
    assert time.monotonic() - started < 8
    assert not s.is_open
    # The node was told to stop (PSRP signal); a new session works at once.
    with psrp(h) as s2:
        assert s2.run([["exitwith", "0"]])[0].ok


def test_cp932_output_on_a_ja_jp_node(wire: Factory) -> None:
    h = wire(make_plan(codepage=932))
    with psrp(h) as s:
        facts = s.facts()
        out = s.run([["jtext"]], read_only=True)[0]
    assert facts.oem_codepage == 932
    assert out.stdout == "タスク名: バックアップ\r\n"
    assert h.backends["node-a"].scripts == ["inspect", "inspect"]


# -- faults ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["drop", "http500", "slow"])
@pytest.mark.parametrize("at", [1, 2, 3])  # pool Create, pool Receive, the inspect Command
def test_transient_faults_on_reads_are_retried(harness: Factory, fault: str, at: int) -> None:
    h = harness()
    s = psrp(h, attempts=3, operation_timeout=1, read_timeout=2)
    h.inject("node-a", fault, at=at, seconds=3)
    facts = s.facts()
    assert facts.hostname == "NODE-A"
    s.close()


@pytest.mark.parametrize("fault", ["drop", "http500", "slow"])
def test_a_fault_during_apply_is_raised_not_retried(harness: Factory, fault: str) -> None:
    h = harness()
    s = psrp(h, attempts=3, operation_timeout=1, read_timeout=2)
    s.facts()
    before = h.requests("node-a")
    h.inject("node-a", fault, at=1, seconds=3)  # the apply's Command
    with pytest.raises(ConnectionFailed) as info:
        s.apply(ApplyRequest(writes=[FileWrite("C:\\clpbackup\\x.txt", b"x")]))
    assert info.value.node == "node-a"
    # One try only; after an HTTP 500 the node is reachable, so the broken pool is also deleted there.
    assert h.requests("node-a") - before == (2 if fault == "http500" else 1)
    assert not s.is_open


def test_auth_fault_surfaces_as_authentication_failed(harness: Factory) -> None:
    h = harness()
    s = psrp(h, attempts=3)
    h.inject("node-a", "auth", at=1)
    with pytest.raises(AuthenticationFailed):
        s.facts()
    assert h.requests("node-a") == 1  # not retried


def test_a_node_that_is_down_is_connection_failed_after_the_retries(harness: Factory) -> None:
    h = harness()
    h.inject("node-a", "down", at=None)
    s = psrp(h, attempts=2)
    with pytest.raises(ConnectionFailed) as info:
        s.facts()
    assert info.value.node == "node-a" and "winrm quickconfig" in (info.value.hint or "")
    # The other node is unaffected.
    with psrp(h, node="node-b") as other:
        assert other.facts().hostname == "NODE-B"


# -- WinRS (no PowerShell) through the real pypsrp WinRS/Process ------------------------------------------


def test_winrs_session_over_the_wire(monkeypatch: pytest.MonkeyPatch) -> None:
    from clpbackup.testing.backend import EchoBackend
    from clpbackup.transport.winrs import WinrsSession

    monkeypatch.setenv(ENV, PASSWORD)
    backend = EchoBackend(
        name="node-a",
        protocol_version="2.1",
        ps_version="2.0",
        codepage=932,
        commands={
            "ver": (0, b"\r\nMicrosoft Windows [Version 5.2.3790]\r\n", b""),
            "hostname": (0, b"NODE-A\r\n", b""),
            "chcp": (0, "現在のコード ページ: 932\r\n".encode("cp932"), b""),
            "sc qc Schedule": (0, b"        START_TYPE         : 2   AUTO_START\r\n", b""),
            "sc query Schedule": (0, b"        STATE              : 4  RUNNING\r\n", b""),
            "if exist C:\\ echo yes": (0, b"yes\r\n", b""),
        },
    )
    with WinRMServer(backend, username=USER, password=PASSWORD) as srv:
        plan = make_plan(os="2003", codepage=932, transport="winrs").with_endpoints(
            {"node-a": {"host": "127.0.0.1", "port": srv.port}}
        )
        s = open_session(plan, "node-a", retry=RetryPolicy.none())
        assert isinstance(s, WinrsSession)
        with s:
            results = s.run([["exit", "0"], ["fail", "ボリューム"], ["exit", "4"]])
            probe = [ln for ln in s.sent if ln.startswith("echo clpbackup>")]
            assert probe == []  # nothing probed yet
            facts = s.facts()
        assert [(r.rc, r.ran) for r in results] == [(0, True), (1, True), (4, True)]
        assert results[1].stderr == "ボリューム\r\n"
        assert (facts.os, facts.oem_codepage, facts.schedule_start_mode, facts.schedule_state) == (
            "2003",
            932,
            "Auto",
            "Running",
        )
        assert facts.volume("C:") is not None and facts.volume("C:").present  # type: ignore[union-attr]
        assert srv.shell_ids() == []  # the one shell was deleted on close
