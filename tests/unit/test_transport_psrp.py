"""PsrpSession against a fake pypsrp boundary (WSMan / RunspacePool / PowerShell patched).

What is checked here: one pool per session, opened lazily and reused; each operation is one
pipeline with the script text unchanged and every value as a named parameter; outputs become the
dataclasses; malformed outputs are ParseErrors; the deadline stops the pipeline; pypsrp / requests
exceptions become the typed errors (node named, password never shown); reads are retried and
writes are not; insecure settings are refused; the noisy loggers stay quiet.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from pypsrp.complex_objects import PSInvocationState
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

from clpbackup import winquote
from clpbackup.commands import Command
from clpbackup.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    NodeTimeout,
    ParseError,
    PlanError,
    RemoteCommandFailed,
)
from clpbackup.plan import Plan
from clpbackup.transport import open_session, psrp, remote_ops
from clpbackup.transport._logging import NOISY_LOGGERS
from clpbackup.transport.psrp import PsrpSession
from clpbackup.transport.retry import RetryPolicy
from clpbackup.transport.types import ApplyRequest, FileWrite, InspectRequest

PASSWORD = "S3cr3t-Pa55w0rd!"
ENV = "CLPB_UNIT_PASSWORD"


def make_plan(**connection: Any) -> Plan:
    conn = {"auth": "ntlm", "username": "EXAMPLE\\backup", "password": {"env": ENV}, **connection}
    return Plan.from_dict(
        {
            "cluster": {"name": "prod-db", "failover_group": "failover1", "switchover_volumes": ["E:"]},
            "nodes": [
                {"name": "node-a", "host": "192.0.2.11", "os": "2012", "home": True},
                {"name": "node-b", "host": "192.0.2.12", "os": "2012"},
            ],
            "connection": conn,
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


# -- a fake pypsrp ---------------------------------------------------------------------------------


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def facts_table(**over: Any) -> dict[str, Any]:
    facts = {
        "hostname": "NODE-A",
        "os_version": "6.2.9200",
        "os_caption": "Microsoft Windows Server 2012 Standard",
        "ps_version": "3.0",
        "oem_codepage": 437,
        "volumes": [{"letter": "C:", "present": True, "writable": True}],
        "schedule_start_mode": "Auto",
        "schedule_state": "Running",
        "wsb_installed": True,
        "scripts_dir_exists": False,
        "clpstat": None,
    }
    facts.update(over)
    return facts


def twin(script: str, params: dict[str, Any]) -> list[Any]:
    """A Python twin of the two operations, enough for the session's unit tests."""
    files: dict[str, bytes] = twin.files  # type: ignore[attr-defined]
    name = remote_ops.MARKER.match(script.splitlines()[0]).group("name")  # type: ignore[union-attr]
    commands = []
    failed = False
    for i, (prog, args) in enumerate(zip(params["Programs"], params["Arguments"], strict=True)):
        if name == "apply" and params["StopOnError"] and failed:
            commands.append(
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
        rc = int(args.split()[-1]) if prog == "exitwith" else 0
        failed = failed or rc != 0
        commands.append(
            {
                "index": i,
                "program": prog,
                "arguments": args,
                "rc": rc,
                "stdout": f"out {i}\r\n",
                "stderr": "bad\r\n" if rc else "",
                "ran": True,
            }
        )
    if name == "inspect":
        out_files = []
        for p in [*params["HashPaths"], *[r for r in params["ReadPaths"] if r not in params["HashPaths"]]]:
            data = files.get(p)
            out_files.append(
                {
                    "path": p,
                    "sha256": sha(data) if data is not None else None,
                    "content_base64": base64.b64encode(data).decode()
                    if data is not None and p in params["ReadPaths"]
                    else None,
                    "error": None,
                }
            )
        return [
            {
                "op": "inspect",
                "version": 1,
                "facts": facts_table() if params["WantFacts"] else None,
                "files": out_files,
                "commands": commands,
            }
        ]
    out = []
    for p, c, h in zip(params["WritePaths"], params["WriteContents"], params["WriteHashes"], strict=True):
        data = base64.b64decode(c)
        changed = files.get(p) != data
        files[p] = data
        out.append({"path": p, "changed": changed, "sha256": h, "error": None})
    deleted = [p for p in params["DeletePaths"] if files.pop(p, None) is not None]
    return [{"op": "apply", "version": 1, "files": out, "deleted": deleted, "commands": commands}]


twin.files = {}  # type: ignore[attr-defined]


class FakePool:
    instances: ClassVar[list[FakePool]] = []

    def __init__(self, wsman: Any, **kwargs: Any) -> None:
        self.wsman = wsman
        self.opened = 0
        self.closed = 0
        self.protocol_version: str | None = None
        self.ps_version: str | None = None
        self.open_error: BaseException | None = FakePool.open_errors.pop(0) if FakePool.open_errors else None
        FakePool.instances.append(self)

    open_errors: ClassVar[list[BaseException]] = []

    def open(self) -> None:
        self.opened += 1
        if self.open_error is not None:
            raise self.open_error
        self.protocol_version, self.ps_version = "2.1", "2.0"

    def close(self) -> None:
        self.closed += 1


class FakeStreams:
    def __init__(self) -> None:
        self.error: list[Any] = []


class FakePowerShell:
    """Records the pipeline; answers through ``handler(script, params)``."""

    instances: ClassVar[list[FakePowerShell]] = []
    handler: Callable[[str, dict[str, Any]], list[Any]] = staticmethod(twin)
    poll_effects: ClassVar[list[Any]] = []  # per poll: an exception to raise, "hang" to stay RUNNING, None

    def __init__(self, pool: FakePool) -> None:
        self.pool = pool
        self.script: str | None = None
        self.params: dict[str, Any] = {}
        self.state = PSInvocationState.NOT_STARTED
        self.output: list[Any] = []
        self.streams = FakeStreams()
        self.stopped = False
        self.polls: list[int | None] = []
        FakePowerShell.instances.append(self)

    def add_script(self, script: str) -> FakePowerShell:
        self.script = script
        return self

    def add_parameter(self, name: str, value: Any) -> FakePowerShell:
        assert name not in self.params
        self.params[name] = value
        return self

    def begin_invoke(self) -> None:
        self.state = PSInvocationState.RUNNING

    def poll_invoke(self, timeout: int | None = None) -> None:
        self.polls.append(timeout)
        effect = FakePowerShell.poll_effects.pop(0) if FakePowerShell.poll_effects else None
        if isinstance(effect, BaseException):
            raise effect
        if effect == "hang":
            return
        if effect == "fail":
            self.streams.error.append(f"Access to the path 'C:\\x' is denied. ({PASSWORD})")
            self.state = PSInvocationState.FAILED
            return
        assert self.script is not None
        self.output = list(FakePowerShell.handler(self.script, self.params))
        self.state = PSInvocationState.COMPLETED

    def stop(self) -> None:
        self.stopped = True
        self.state = PSInvocationState.STOPPED


class FakeWSMan:
    instances: ClassVar[list[FakeWSMan]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.closed = 0
        FakeWSMan.instances.append(self)

    def close(self) -> None:
        self.closed += 1


@pytest.fixture(autouse=True)
def fake_pypsrp(mocker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, PASSWORD)
    for cls in (FakePool, FakePowerShell, FakeWSMan):
        cls.instances = []  # type: ignore[attr-defined]
    FakePool.open_errors = []
    FakePowerShell.poll_effects = []
    FakePowerShell.handler = staticmethod(twin)  # type: ignore[assignment]
    twin.files = {}  # type: ignore[attr-defined]
    mocker.patch.object(psrp, "WSMan", FakeWSMan)
    mocker.patch.object(psrp, "RunspacePool", FakePool)
    mocker.patch.object(psrp, "PowerShell", FakePowerShell)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def session(
    plan: Plan | None = None,
    *,
    attempts: int = 1,
    sleeps: list[float] | None = None,
    clock: Callable[[], float] | None = None,
) -> PsrpSession:
    plan = plan or make_plan()
    sleep_log = sleeps if sleeps is not None else []
    s = open_session(plan, "node-a", retry=RetryPolicy(attempts=attempts, sleep=sleep_log.append))
    assert isinstance(s, PsrpSession)
    if clock is not None:
        s._clock = clock
    return s


# -- pool lifecycle ---------------------------------------------------------------------------------


def test_nothing_is_sent_before_the_first_call_and_the_pool_is_reused_then_closed() -> None:
    s = session()
    assert FakeWSMan.instances == [] and FakePool.instances == []
    s.facts()
    s.inspect(InspectRequest(want_facts=False, hash_paths=["C:\\a.txt"]))
    s.apply(ApplyRequest(writes=[FileWrite("C:\\a.txt", b"x")]))
    assert len(FakeWSMan.instances) == 1 and len(FakePool.instances) == 1
    assert FakePool.instances[0].opened == 1
    assert len(FakePowerShell.instances) == 3  # one pipeline per operation
    assert all(ps.pool is FakePool.instances[0] for ps in FakePowerShell.instances)
    assert s.protocol_version == "2.1" and s.is_open
    s.close()
    s.close()  # twice is fine
    assert FakePool.instances[0].closed == 1 and FakeWSMan.instances[0].closed == 1
    assert not s.is_open


def test_context_manager_closes() -> None:
    with session() as s:
        s.facts()
    assert FakePool.instances[0].closed == 1


# -- one pipeline per operation, values only as parameters ---------------------------------------------


def test_inspect_sends_the_script_unchanged_and_every_value_as_a_parameter() -> None:
    s = session()
    twin.files["C:\\clpbackup\\job.bat"] = b"@echo off\r\n"  # type: ignore[attr-defined]
    req = InspectRequest(
        hash_paths=["C:\\clpbackup\\job.bat"],
        read_paths=["C:\\clpbackup\\job.bat", "C:\\missing.txt"],
        commands=[
            ["schtasks", "/query", "/tn", "clpbackup-prod-db-job one"],
            Command(("rsm", "refresh"), "2003", raw_tail='refresh /LF"My Lib"'),
        ],
        probe_volumes=["E:"],
        scripts_dir="C:\\clpbackup",
        clpstat=True,
        record_path="C:\\clpbackup\\clpbackup-record.jsonl",
    )
    result = s.inspect(req)
    ps = FakePowerShell.instances[0]
    assert ps.script == remote_ops.load("inspect").text
    assert ps.params == {
        "WantFacts": True,
        "HashPaths": ["C:\\clpbackup\\job.bat"],
        "ReadPaths": ["C:\\clpbackup\\job.bat", "C:\\missing.txt"],
        "Programs": ["schtasks", "rsm"],
        "Arguments": [
            winquote.argument_string(["/query", "/tn", "clpbackup-prod-db-job one"]),
            'refresh /LF"My Lib"',
        ],
        "ProbeVolumes": ["E:"],
        "ScriptsDir": "C:\\clpbackup",
        "RecordPath": "C:\\clpbackup\\clpbackup-record.jsonl",
        "Clpstat": True,
        "CodePage": 437,
        "CommandTimeoutSeconds": 300,
    }
    assert ps.params["Arguments"][0] == '/query /tn "clpbackup-prod-db-job one"'
    # No value was spliced into the text.
    for value in ("job.bat", "clpbackup-prod-db-job", "My Lib", "C:\\clpbackup"):
        assert value not in ps.script  # type: ignore[operator]
    assert result.files["C:\\clpbackup\\job.bat"].content == b"@echo off\r\n"
    assert result.files["C:\\missing.txt"].sha256 is None and result.files["C:\\missing.txt"].content is None
    assert [c.argv for c in result.commands] == [
        ("schtasks", "/query", "/tn", "clpbackup-prod-db-job one"),
        ("rsm", "refresh"),
    ]
    assert result.facts is not None and result.facts.os == "2012" and result.facts.volume("c:") is not None


def test_codepage_and_deadline_come_from_the_plan() -> None:
    s = session(make_plan(codepage=932, deadline=120))
    s.run([["chcp"]], read_only=True)
    assert FakePowerShell.instances[0].params["CodePage"] == 932
    assert FakePowerShell.instances[0].params["CommandTimeoutSeconds"] == 120


def test_apply_sends_base64_and_hash_and_reports_changes() -> None:
    s = session()
    data = bytes(range(256)) * 10
    assert s.write_file("C:\\clpbackup\\bin.dat", data) is True
    ps = FakePowerShell.instances[0]
    assert ps.script == remote_ops.load("apply").text
    assert ps.params["WritePaths"] == ["C:\\clpbackup\\bin.dat"]
    assert base64.b64decode(ps.params["WriteContents"][0]) == data
    assert ps.params["WriteHashes"] == [sha(data)]
    assert ps.params["StopOnError"] is True
    assert s.write_file("C:\\clpbackup\\bin.dat", data) is False  # same bytes: not touched
    assert s.read_file("C:\\clpbackup\\bin.dat") == data
    assert s.file_hash("C:\\clpbackup\\bin.dat") == sha(data)
    assert s.read_file("C:\\nope") is None and s.file_hash("C:\\nope") is None
    assert s.delete_file("C:\\clpbackup\\bin.dat") is True
    assert s.delete_file("C:\\clpbackup\\bin.dat") is False


def test_run_mixed_exit_codes_in_one_pipeline() -> None:
    s = session()
    results = s.run([["exitwith", "0"], ["exitwith", "3"], ["exitwith", "0"]])
    assert len(FakePowerShell.instances) == 1
    assert [(r.rc, r.ran, r.ok) for r in results] == [(0, True, True), (3, True, False), (0, True, True)]
    assert results[1].stderr == "bad\r\n" and results[0].stdout == "out 0\r\n"
    stopped = s.run([["exitwith", "1"], ["exitwith", "0"]], stop_on_error=True)
    assert [(r.rc, r.ran) for r in stopped] == [(1, True), (None, False)]


def test_a_failed_write_is_reported_with_its_error() -> None:
    def handler(script: str, params: dict[str, Any]) -> list[Any]:
        return [
            {
                "op": "apply",
                "version": 1,
                "deleted": [],
                "commands": [],
                "files": [
                    {
                        "path": params["WritePaths"][0],
                        "changed": False,
                        "sha256": None,
                        "error": "Access to the path is denied.",
                    }
                ],
            }
        ]

    FakePowerShell.handler = staticmethod(handler)  # type: ignore[assignment]
    s = session()
    res = s.apply(ApplyRequest(writes=[FileWrite("C:\\x.bat", b"x")]))
    assert res.files[0].error == "Access to the path is denied." and res.files[0].sha256 == ""
    with pytest.raises(RemoteCommandFailed, match=r"\[node-a\] cannot write C:\\x.bat: Access"):
        s.write_file("C:\\x.bat", b"x")


# -- malformed outputs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ([], "no result Hashtable"),
        (["text"], "no result Hashtable"),
        (
            [{"op": "inspect", "version": 1, "facts": None, "files": [], "commands": []}] * 2,
            "2 result Hashtables",
        ),
        ([{"op": "inspect", "version": 2, "facts": None, "files": [], "commands": []}], "version 2"),
        ([{"op": "inspect", "version": 1, "facts": None, "commands": []}], "'files' is missing"),
        ([{"op": "inspect", "version": 1, "facts": None, "files": "x", "commands": []}], "not a list"),
        (
            [
                {
                    "op": "inspect",
                    "version": 1,
                    "facts": None,
                    "files": [{"path": "C:\\a", "sha256": "00", "content_base64": "aGVsbG8=", "error": None}],
                    "commands": [],
                }
            ],
            "does not match its SHA-256",
        ),
        (
            [
                {
                    "op": "inspect",
                    "version": 1,
                    "facts": None,
                    "files": [{"path": "C:\\a", "sha256": None, "content_base64": "@@@", "error": None}],
                    "commands": [],
                }
            ],
            "not base64",
        ),
    ],
)
def test_malformed_inspect_output_is_a_parse_error(output: list[Any], message: str) -> None:
    FakePowerShell.handler = staticmethod(lambda script, params: output)  # type: ignore[assignment]
    s = session()
    with pytest.raises(ParseError, match=message) as info:
        s.inspect(InspectRequest(want_facts=False, read_paths=["C:\\a"]))
    assert info.value.node == "node-a"


def test_facts_with_a_wrong_type_are_a_parse_error() -> None:
    def handler(script: str, params: dict[str, Any]) -> list[Any]:
        return [
            {
                "op": "inspect",
                "version": 1,
                "facts": facts_table(oem_codepage="437"),
                "files": [],
                "commands": [],
            }
        ]

    FakePowerShell.handler = staticmethod(handler)  # type: ignore[assignment]
    with pytest.raises(ParseError, match="oem_codepage"):
        session().facts()


def test_command_results_must_match_the_commands() -> None:
    FakePowerShell.handler = staticmethod(  # type: ignore[assignment]
        lambda script, params: [{"op": "apply", "version": 1, "files": [], "deleted": [], "commands": []}]
    )
    with pytest.raises(ParseError, match="0 command results for 1 commands"):
        session().run([["hostname"]])


# -- pipeline errors and the deadline ---------------------------------------------------------------------


def test_a_failed_pipeline_is_remote_command_failed_without_the_password() -> None:
    FakePowerShell.poll_effects = ["fail"]
    s = session()
    with pytest.raises(RemoteCommandFailed) as info:
        s.inspect(InspectRequest())
    text = str(info.value)
    assert "[node-a]" in text and "Access to the path" in text
    assert PASSWORD not in text and PASSWORD not in repr(info.value) and PASSWORD not in info.value.stderr


def test_past_the_deadline_the_pipeline_is_stopped_and_node_timeout_raised() -> None:
    clock = Clock()
    FakePowerShell.poll_effects = ["hang"] * 100
    s = session(make_plan(deadline=30, operation_timeout=20, read_timeout=30), clock=clock)
    original = FakePowerShell.poll_invoke

    def poll(self: FakePowerShell, timeout: int | None = None) -> None:
        clock.now += timeout or 0
        original(self, timeout)

    FakePowerShell.poll_invoke = poll  # type: ignore[method-assign]
    try:
        with pytest.raises(NodeTimeout, match=r"\[node-a\] apply did not finish within the deadline of 30 s"):
            s.run([["ping", "-n", "100", "127.0.0.1"]])
    finally:
        FakePowerShell.poll_invoke = original  # type: ignore[method-assign]
    ps = FakePowerShell.instances[0]
    assert ps.stopped
    # Polls never wait past the deadline: 20 s, then the 10 s that were left.
    assert ps.polls == [20, 10]
    # The pool is not reused after a timeout.
    assert not s.is_open and FakePool.instances[0].closed == 1


# -- errors ---------------------------------------------------------------------------------------------


def wsman_fault(code: int, reason: str = "") -> WSManFaultError:
    return WSManFaultError(code, "node-a", reason, None, None, None)


def test_connection_refused_is_connection_failed_with_the_winrm_hint_and_retried() -> None:
    FakePool.open_errors = [requests.exceptions.ConnectionError("Connection refused")] * 3
    sleeps: list[float] = []
    s = session(attempts=3, sleeps=sleeps)
    with pytest.raises(ConnectionFailed) as info:
        s.facts()
    err = info.value
    assert err.node == "node-a" and "winrm quickconfig" in (err.hint or "") and "5985" in (err.hint or "")
    assert "WMF 2.0" in (err.hint or "") and "no_proxy" in (err.hint or "")
    assert len(FakePool.instances) == 3 and len(sleeps) == 2
    # A broken pool is discarded: each attempt built a new WSMan, nothing was sent to an unreachable node.
    assert len(FakeWSMan.instances) == 3 and all(p.closed == 0 for p in FakePool.instances)
    assert all(w.closed == 1 for w in FakeWSMan.instances)


def test_a_transient_open_failure_is_retried_and_then_works() -> None:
    FakePool.open_errors = [WinRMTransportError("http", 503, "Service Unavailable")]
    sleeps: list[float] = []
    s = session(attempts=3, sleeps=sleeps)
    assert s.facts().hostname == "NODE-A"
    assert len(FakePool.instances) == 2 and len(sleeps) == 1
    assert FakePool.instances[0].closed == 1  # the reachable node was told to drop the broken pool


def test_authentication_failure_is_not_retried_and_never_shows_the_password(caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    FakePool.open_errors = [
        AuthenticationError("Failed to authenticate the user EXAMPLE\\backup with ntlm")
    ] * 3
    sleeps: list[float] = []
    s = session(attempts=3, sleeps=sleeps)
    with pytest.raises(AuthenticationFailed) as info:
        s.facts()
    err = info.value
    assert len(FakePool.instances) == 1 and sleeps == []
    assert (
        err.node == "node-a"
        and "connection.auth" in (err.hint or "")
        and "AllowUnencrypted" in (err.hint or "")
    )
    chain: BaseException | None = err
    while chain is not None:
        assert PASSWORD not in str(chain) and PASSWORD not in repr(chain)
        chain = chain.__cause__
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(s)


def test_password_echoed_by_the_wire_is_redacted_and_not_chained() -> None:
    FakePool.open_errors = [WinRMTransportError("http", 400, f"bad request with {PASSWORD} inside")]
    with pytest.raises(ConnectionFailed) as info:
        session().facts()
    assert PASSWORD not in str(info.value) and "********" in str(info.value)
    assert info.value.__cause__ is None


def test_password_is_resolved_at_connect_time_and_passed_to_pypsrp(monkeypatch: pytest.MonkeyPatch) -> None:
    s = session()
    monkeypatch.setenv(ENV, "changed-later")
    s.facts()
    kwargs = FakeWSMan.instances[0].kwargs
    assert kwargs["password"] == "changed-later"
    assert kwargs["username"] == "EXAMPLE\\backup" and kwargs["auth"] == "ntlm"
    assert kwargs["server"] == "192.0.2.11" and kwargs["port"] == 5985 and kwargs["ssl"] is False
    assert kwargs["encryption"] == "always" and kwargs["cert_validation"] is True
    assert kwargs["no_proxy"] is True and kwargs["reconnection_retries"] == 0
    assert (kwargs["operation_timeout"], kwargs["read_timeout"], kwargs["connection_timeout"]) == (20, 30, 30)
    assert "changed-later" not in repr(s) and "password" not in repr(s)


def test_a_missing_password_variable_is_a_plan_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV)
    with pytest.raises(PlanError, match=ENV):
        session().facts()


def test_operation_timeout_on_inspect_is_retried() -> None:
    FakePowerShell.poll_effects = [
        wsman_fault(
            2150858793, "The WS-Management service cannot complete the operation within the time specified"
        )
    ]
    sleeps: list[float] = []
    s = session(attempts=3, sleeps=sleeps)
    assert s.facts().hostname == "NODE-A"
    assert len(sleeps) == 1 and len(FakePowerShell.instances) == 2


def test_shell_not_found_on_inspect_reopens_the_pool() -> None:
    s = session(attempts=3, sleeps=[])
    s.facts()
    FakePowerShell.poll_effects = [
        wsman_fault(
            2150858843,
            "The request for the Windows Remote Shell with ShellId "
            "X failed because the shell was not found on the server.",
        )
    ]
    assert s.facts().hostname == "NODE-A"
    assert len(FakePool.instances) == 2 and FakePowerShell.instances[-1].pool is FakePool.instances[1]


def test_apply_is_never_retried() -> None:
    s = session(attempts=3, sleeps=[])
    s.facts()
    FakePowerShell.poll_effects = [requests.exceptions.ConnectionError("Connection reset by peer")]
    reset = r"\[node-a\] cannot connect to WinRM during apply on the node: Connection reset by peer"
    with pytest.raises(ConnectionFailed, match=reset):
        s.apply(ApplyRequest(writes=[FileWrite("C:\\a", b"1")]))
    apply_pipelines = [ps for ps in FakePowerShell.instances if ps.params.get("WritePaths")]
    assert len(apply_pipelines) == 1
    assert twin.files == {}  # type: ignore[attr-defined]
    assert not s.is_open  # the broken pool is dropped; the next call opens a new one
    s.facts()
    assert len(FakePool.instances) == 2


def test_http_500_is_retryable_connection_failed() -> None:
    FakePowerShell.poll_effects = [WinRMTransportError("http", 500, "Internal Server Error")] * 3
    sleeps: list[float] = []
    with pytest.raises(ConnectionFailed, match="HTTP 500") as info:
        session(attempts=3, sleeps=sleeps).facts()
    assert len(sleeps) == 2 and info.value.node == "node-a"


def test_other_wsman_faults_during_an_operation_are_remote_command_failed() -> None:
    FakePowerShell.poll_effects = [wsman_fault(2150858770, "The client cannot connect to the destination")]
    with pytest.raises(RemoteCommandFailed, match="WinRM fault during inspect"):
        session(attempts=3, sleeps=[]).facts()


def test_wsman_fault_on_open_is_connection_failed_and_access_denied_is_authentication() -> None:
    FakePool.open_errors = [wsman_fault(2150859046, "The WS-Management service does not support the request")]
    with pytest.raises(ConnectionFailed, match="refused to open"):
        session().facts()
    FakePool.open_errors = [wsman_fault(5, "Access is denied.")]
    with pytest.raises(AuthenticationFailed, match="denied access"):
        session().facts()


# -- security settings --------------------------------------------------------------------------------------


def test_basic_over_http_is_refused() -> None:
    with pytest.raises(PlanError) as info:
        session(make_plan(auth="basic", username="backup"))
    err = info.value
    assert err.field == "connection.auth" and err.node == "node-a" and "node-a" in str(err)
    assert "ssl: true" in (err.hint or "")
    assert FakeWSMan.instances == []


def test_basic_over_http_with_allow_insecure_warns(caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="clpbackup.transport")
    s = session(make_plan(auth="basic", username="backup", allow_insecure=True))
    s.facts()
    assert FakeWSMan.instances[0].kwargs["encryption"] == "never"
    assert "without message encryption" in caplog.text and PASSWORD not in caplog.text


def test_basic_over_https_validates_certificates_by_default(tmp_path: Path) -> None:
    s = session(make_plan(auth="basic", username="backup", ssl=True))
    s.facts()
    kwargs = FakeWSMan.instances[0].kwargs
    assert kwargs["ssl"] is True and kwargs["port"] == 5986 and kwargs["cert_validation"] is True
    assert kwargs["encryption"] == "auto"
    ca = tmp_path / "ca.pem"  # a CA bundle that does not exist is refused before connecting
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    s2 = session(make_plan(auth="basic", username="backup", ssl=True, cert_validation=str(ca)))
    s2.facts()
    assert FakeWSMan.instances[1].kwargs["cert_validation"] == str(ca)


def test_a_node_override_cannot_break_the_timeout_rule() -> None:
    plan = make_plan()
    data = plan.model_dump(exclude={"connection": {"password"}})
    data["connection"]["password"] = {"env": ENV}
    data["nodes"][0]["connection"] = {"operation_timeout": 60}
    with pytest.raises(PlanError, match=r"read_timeout \(30\) must be greater than operation_timeout \(60\)"):
        open_session(Plan.from_dict(data), "node-a")


def test_certificate_auth_needs_https_and_the_key_paths() -> None:
    with pytest.raises(PlanError, match="only over HTTPS"):
        session(make_plan(auth="certificate"))
    with pytest.raises(PlanError, match="certificate_pem"):
        session(make_plan(auth="certificate", ssl=True))
    s = session(
        make_plan(auth="certificate", ssl=True, certificate_pem="/c.pem", certificate_key_pem="/k.pem")
    )
    s.facts()
    kwargs = FakeWSMan.instances[0].kwargs
    assert kwargs["certificate_pem"] == "/c.pem" and kwargs["password"] is None


# -- logging -------------------------------------------------------------------------------------------------


def test_library_debug_output_never_reaches_handlers_and_own_logs_carry_no_values() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        s = session()  # quiets the libraries
        logging.getLogger("pypsrp.wsman").setLevel(logging.DEBUG)  # a user turning it up on purpose
        for name in NOISY_LOGGERS:
            logging.getLogger(name).debug("payload %s", PASSWORD)
            logging.getLogger(name + ".sub").info("payload %s", PASSWORD)
        logging.getLogger("pypsrp.wsman").debug("Sending message %s", PASSWORD)
        logging.getLogger("pypsrp.wsman").warning("a real warning")
        s.write_file("C:\\clpbackup\\secret-content.bat", b"CONTENT-MARKER-123")
        s.run([["schtasks", "/create", "/tn", "ARG-MARKER-456"]])
        s.close()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    texts = [r.getMessage() for r in records]
    assert all(PASSWORD not in t for t in texts)
    assert [t for t in texts if t == "a real warning"]
    noisy_below_warning = [
        r for r in records if r.name.split(".")[0] in NOISY_LOGGERS and r.levelno < logging.WARNING
    ]
    assert noisy_below_warning == []
    own = [t for r, t in zip(records, texts, strict=True) if r.name.startswith("clpbackup.transport")]
    assert any("apply v1 completed" in t for t in own) and any("runspace pool open" in t for t in own)
    assert all("CONTENT-MARKER" not in t and "ARG-MARKER" not in t for t in own)
