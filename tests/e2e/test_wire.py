"""The simulator's WinRM endpoint against the real pypsrp client, over real HTTP(S) on 127.0.0.1.

Every test starts a :class:`WinRMServer` in front of an :class:`EchoBackend` and drives it with
unmodified pypsrp 0.9.1 (RunspacePool/PowerShell, Client.execute_cmd, WinRS/Process), so what is
checked is the wire: authentication, message encryption, WS-Man, PSRP fragments, faults.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from pypsrp.client import Client
from pypsrp.exceptions import AuthenticationError, WSManFaultError
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool
from pypsrp.shell import Process, WinRS
from pypsrp.wsman import WSMan

from clpbackup.testing.backend import EchoBackend
from clpbackup.testing.server import WinRMServer

pytestmark = pytest.mark.e2e

USER = "EXAMPLE\\backup-admin"
PASSWORD = "S3cret:pass w0rd"  # a colon and a space: both must survive every auth path

ServerFactory = Callable[..., WinRMServer]


@pytest.fixture
def make_server() -> Iterator[ServerFactory]:
    servers: list[WinRMServer] = []

    def factory(backend: EchoBackend | None = None, **kwargs: Any) -> WinRMServer:
        kwargs.setdefault("username", USER)
        kwargs.setdefault("password", PASSWORD)
        srv = WinRMServer(backend or EchoBackend(), **kwargs).start()
        servers.append(srv)
        return srv

    yield factory
    for srv in servers:
        srv.stop()


def wsman_for(srv: WinRMServer, **kwargs: Any) -> WSMan:
    kwargs.setdefault("username", USER)
    kwargs.setdefault("password", PASSWORD)
    kwargs.setdefault("auth", "negotiate")
    if srv.ssl:
        kwargs.setdefault("cert_validation", srv.ca_cert_path)
    return WSMan("127.0.0.1", port=srv.port, ssl=srv.ssl, **kwargs)


def client_for(srv: WinRMServer, **kwargs: Any) -> Client:
    kwargs.setdefault("username", USER)
    kwargs.setdefault("password", PASSWORD)
    if srv.ssl:
        kwargs.setdefault("cert_validation", srv.ca_cert_path)
    return Client("127.0.0.1", port=srv.port, ssl=srv.ssl, **kwargs)


# --- PSRP -----------------------------------------------------------------------------------------


def test_pool_open_invoke_close_counts_requests_and_round_trips_a_dict(make_server: ServerFactory) -> None:
    srv = make_server(EchoBackend(protocol_version="2.3", ps_version="4.0"))
    params = {
        "Name": "inspect",
        "Flags": [True, False],
        "Nested": {"k": [1, "two", None]},
        "Blob": b"\x00\xff",
    }
    pool = RunspacePool(wsman_for(srv))
    pool.open()
    # Benchmark targets: pool open = Create + Receive; one pipeline = Command + Receive; close = Delete.
    assert srv.requests == 2
    assert srv.auth_requests == 3  # blank POST 401, NEGOTIATE→CHALLENGE 401, AUTHENTICATE 200
    assert pool.protocol_version == "2.3"
    ps = PowerShell(pool)
    ps.add_script("# clpbackup-op: echo v1\nparam($Name)")
    for name, value in params.items():
        ps.add_parameter(name, value)
    output = ps.invoke()
    assert srv.requests == 4
    pool.close()
    assert srv.requests == 5
    assert output == [{"script": "# clpbackup-op: echo v1\nparam($Name)", "parameters": params, "input": []}]
    assert ps.state == PSInvocationState.COMPLETED
    assert not ps.had_errors
    assert srv.shell_ids() == []  # Delete removed the pool


def test_protocol_21_host_assigns_its_own_ids(make_server: ServerFactory) -> None:
    srv = make_server(EchoBackend(protocol_version="2.1", ps_version="2.0"))
    wsman = wsman_for(srv)
    with RunspacePool(wsman) as pool:
        assert pool.protocol_version == "2.1"
        # WinRM 2.0 ignores the client's ShellId; pypsrp follows the ResourceCreated selector.
        (server_shell_id,) = srv.shell_ids()
        assert server_shell_id != str(pool.id).upper()
        assert pool.shell._selector_set.values[0][:2] == ("ShellId", server_shell_id)
        ps = PowerShell(pool)
        ps.add_script("one").add_parameter("Output", ["x"])
        assert ps.invoke() == ["x"]
        assert ps._command_id != str(ps.id).upper()  # …and the client's CommandId
        assert pool.is_alive()  # Get on the shell resource
    wsman.update_max_payload_size()  # Get winrm/config: a 2008 R2 answers 150 KiB
    assert wsman.max_envelope_size == 150 * 1024


def test_protocol_23_host_honours_client_ids(make_server: ServerFactory) -> None:
    srv = make_server(EchoBackend(protocol_version="2.3"))
    wsman = wsman_for(srv)
    with RunspacePool(wsman) as pool:
        assert pool.shell.id == str(pool.id).upper()
        ps = PowerShell(pool)
        ps.add_script("one").add_parameter("Output", [1])
        assert ps.invoke() == [1]
        assert ps._command_id == str(ps.id).upper()
        assert wsman.max_envelope_size == 512000  # pypsrp raised it after SessionCapability 2.3
    wsman.update_max_payload_size()
    assert wsman.max_envelope_size == 500 * 1024


def test_error_records_and_failed_pipeline(make_server: ServerFactory) -> None:
    srv = make_server()
    with RunspacePool(wsman_for(srv)) as pool:
        ps = PowerShell(pool)
        ps.add_script("x").add_parameter("Output", ["partial"]).add_parameter(
            "Errors", ["disk E: missing", "two"]
        )
        assert ps.invoke() == ["partial"]
        assert [str(e) for e in ps.streams.error] == ["disk E: missing", "two"]
        assert ps.streams.error[0].fq_error == "Microsoft.PowerShell.Commands.WriteErrorException"
        assert ps.state == PSInvocationState.COMPLETED
        # pypsrp sets had_errors only for a Failed pipeline (as with real hosts and Write-Error)
        assert not ps.had_errors

        failed = PowerShell(pool)
        failed.add_script("x").add_parameter("Raise", "not simulated: wbadmin get items")
        assert failed.invoke() == []
        assert failed.state == PSInvocationState.FAILED
        assert failed.had_errors
        assert [str(e) for e in failed.streams.error] == ["not simulated: wbadmin get items"]


def test_pipeline_input_and_positional_arguments(make_server: ServerFactory) -> None:
    srv = make_server()
    with RunspacePool(wsman_for(srv)) as pool:
        ps = PowerShell(pool)
        ps.add_script("x")
        out = ps.invoke(input=["a", 2, {"k": "v"}])
        assert out[0]["input"] == ["a", 2, {"k": "v"}]
        positional = PowerShell(pool)
        positional.add_script("x").add_argument("value")  # the simulator wants named parameters only
        positional.invoke()
        assert positional.state == PSInvocationState.FAILED
        assert "positional argument" in str(positional.streams.error[0])


def test_large_parameter_crosses_several_sends_and_receives(make_server: ServerFactory) -> None:
    srv = make_server(EchoBackend(protocol_version="2.1", ps_version="2.0"))  # 150 KiB envelopes
    big = "0123456789abcdef" * 65536  # 1 MiB
    with RunspacePool(wsman_for(srv)) as pool:
        before = srv.requests
        ps = PowerShell(pool)
        ps.add_script("x").add_parameter("Payload", big)
        out = ps.invoke()
        used = srv.requests - before
    assert out[0]["parameters"]["Payload"] == big
    # 1 MiB (UTF-8 in CLIXML, base64 on the wire) needs ≥ 7 envelopes of 150 KiB each way.
    assert used >= 14


def test_stop_cancels_a_long_running_pipeline(make_server: ServerFactory) -> None:
    backend = EchoBackend()
    srv = make_server(backend)
    with RunspacePool(wsman_for(srv)) as pool:
        ps = PowerShell(pool)
        ps.add_script("long").add_parameter("Sleep", 30)
        started = time.monotonic()
        ps.begin_invoke()
        ps.poll_invoke(timeout=1)  # long poll answers w:TimedOut after 1 s; pypsrp retries quietly
        assert ps.state == PSInvocationState.RUNNING
        ps.stop()
        assert ps.state == PSInvocationState.STOPPED
        deadline = time.monotonic() + 3
        while not backend.cancelled and time.monotonic() < deadline:
            time.sleep(0.02)
        assert backend.cancelled == ["long"]
        assert time.monotonic() - started < 5
        again = PowerShell(pool)
        again.add_script("after").add_parameter("Output", ["ok"])
        assert again.invoke() == ["ok"]


def test_a_long_backend_call_does_not_block_other_shells(make_server: ServerFactory) -> None:
    srv = make_server()
    slow_done = threading.Event()

    def slow() -> None:
        with RunspacePool(wsman_for(srv)) as pool:
            ps = PowerShell(pool)
            ps.add_script("slow").add_parameter("Sleep", 1.5)
            ps.invoke()
        slow_done.set()

    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(0.3)
    started = time.monotonic()
    stdout, _, rc = client_for(srv).execute_cmd("echo quick")
    quick = time.monotonic() - started
    assert (stdout, rc) == ("quick\r\n", 0)
    assert not slow_done.is_set()
    assert quick < 1.5
    worker.join(10)
    assert slow_done.is_set()


# --- WinRS ----------------------------------------------------------------------------------------


def test_execute_cmd_exit_codes_and_streams(make_server: ServerFactory) -> None:
    backend = EchoBackend()
    srv = make_server(backend)
    client = client_for(srv)
    assert client.execute_cmd("echo hello world") == ("hello world\r\n", "", 0)
    assert client.execute_cmd("fail access denied") == ("", "access denied\r\n", 1)
    stdout, stderr, rc = client.execute_cmd("wbadmin get versions")
    assert (stdout, rc) == ("", 9009)
    assert "'wbadmin' is not recognized" in stderr
    assert backend.command_lines == ["echo hello world", "fail access denied", "wbadmin get versions"]


class _RefusingBackend(EchoBackend):
    def run_command_line(self, command_line: str) -> tuple[int, bytes, bytes]:
        raise RuntimeError(f"not simulated: {command_line}")


def test_winrs_backend_refusal_is_a_fault_not_a_success(make_server: ServerFactory) -> None:
    srv = make_server(_RefusingBackend())
    with pytest.raises(WSManFaultError) as err:
        client_for(srv).execute_cmd("robocopy C:\\a D:\\b")
    assert "not simulated: robocopy" in str(err.value.reason)


def test_winrs_cp932_output_is_decoded_by_the_client(make_server: ServerFactory) -> None:
    backend = EchoBackend(codepage=932)
    srv = make_server(backend)
    stdout, stderr, rc = client_for(srv).execute_cmd("echo バックアップ完了", encoding="932")
    assert (stdout, stderr, rc) == ("バックアップ完了\r\n", "", 0)
    _, out, _ = backend.run_command_line("echo バックアップ完了")
    assert out == "バックアップ完了\r\n".encode("cp932")  # the wire carried the node's OEM bytes


def test_winrs_process_arguments_and_operation_timeout(make_server: ServerFactory) -> None:
    srv = make_server(EchoBackend(protocol_version="2.1", ps_version="2.0"))
    wsman = wsman_for(srv)
    with WinRS(wsman) as shell:
        proc = Process(shell, "echo", ["a", "b c"])
        proc.invoke()
        assert (proc.stdout, proc.rc) == (b"a b c\r\n", 0)
        sleeper = Process(shell, "sleep", ["1.5"])
        sleeper.begin_invoke()
        with pytest.raises(WSManFaultError) as err:
            shell.receive("stdout stderr", sleeper.id, timeout=1)
        assert err.value.code == 2150858793  # w:TimedOut: nothing to say within OperationTimeout
        sleeper.end_invoke()
        assert sleeper.rc == 0
        with pytest.raises(WSManFaultError) as unknown:
            shell.receive("stdout stderr", "00000000-0000-0000-0000-000000000000")
        assert unknown.value.code == 2150858843


# --- authentication and transport -----------------------------------------------------------------


@pytest.mark.parametrize("auth", ["basic", "negotiate", "ntlm"])
def test_https_with_the_self_signed_certificate(make_server: ServerFactory, auth: str) -> None:
    srv = make_server(ssl=True)
    assert srv.url.startswith("https://127.0.0.1:")
    with RunspacePool(wsman_for(srv, auth=auth)) as pool:
        ps = PowerShell(pool)
        ps.add_script("x").add_parameter("Output", ["tls"])
        assert ps.invoke() == ["tls"]
    assert client_for(srv, auth=auth).execute_cmd("echo over tls")[0] == "over tls\r\n"


def test_https_certificate_is_checked(make_server: ServerFactory) -> None:
    srv = make_server(ssl=True)
    with pytest.raises(requests.exceptions.SSLError):
        client_for(srv, auth="basic", cert_validation=True).execute_cmd("echo x")


def test_ntlm_over_http_encrypts_and_records_the_clear_text(make_server: ServerFactory) -> None:
    srv = make_server(record=True)
    client_for(srv, auth="ntlm").execute_cmd("echo sealed")
    assert len(srv.received) == srv.requests == 5  # Create, Command, Receive, Signal, Delete
    assert "<rsp:Command>echo sealed</rsp:Command>" in srv.received[1]
    assert all(r is not None and "RelatesTo" in r for r in srv.responses)
    with pytest.raises(AuthenticationError):  # unencrypted over HTTP: refused
        client_for(srv, auth="ntlm", encryption="never").execute_cmd("echo clear")
    with pytest.raises(AuthenticationError):  # Basic over HTTP: refused
        client_for(srv, auth="basic", encryption="never").execute_cmd("echo clear")


@pytest.mark.parametrize(
    ("ssl", "auth"), [(False, "negotiate"), (False, "ntlm"), (True, "basic"), (True, "negotiate")]
)
def test_wrong_password_is_an_authentication_error(make_server: ServerFactory, ssl: bool, auth: str) -> None:
    srv = make_server(ssl=ssl)
    with pytest.raises(AuthenticationError):
        client_for(srv, auth=auth, password="wrong").execute_cmd("echo x")
    with pytest.raises(AuthenticationError):
        client_for(srv, auth=auth, username="EXAMPLE\\someone-else").execute_cmd("echo x")
    assert srv.requests == 0  # nothing reached WS-Man


def test_user_name_forms_and_servers_with_different_credentials(make_server: ServerFactory) -> None:
    a = make_server(username="admin@example.test", password="alpha")
    b = make_server(username="admin@example.test", password="bravo")  # same user, other password
    c = make_server(username="operator", password="charlie")
    assert client_for(a, username="admin@example.test", password="alpha").execute_cmd("echo a")[2] == 0
    assert client_for(a, username="example.test\\admin", password="alpha").execute_cmd("echo a")[2] == 0
    assert client_for(b, username="admin@example.test", password="bravo").execute_cmd("echo b")[2] == 0
    assert client_for(c, username="operator", password="charlie").execute_cmd("echo c")[2] == 0
    with pytest.raises(AuthenticationError):
        client_for(b, username="admin@example.test", password="alpha").execute_cmd("echo x")
    assert "alpha" not in repr(a) and "alpha" not in repr(a._store)


# --- faults and latency ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("drop", requests.exceptions.ConnectionError),
        ("down", requests.exceptions.ConnectionError),
        ("http500", WSManFaultError),
        ("slow", requests.exceptions.ReadTimeout),
        ("auth", AuthenticationError),
    ],
)
def test_injected_fault_reaches_the_client(make_server: ServerFactory, fault: str, expected: type) -> None:
    srv = make_server()
    pool = RunspacePool(wsman_for(srv, read_timeout=1))
    pool.open()
    ps = PowerShell(pool)
    ps.add_script("x")
    srv.inject(fault, at=1, seconds=2.5)  # the Command
    with pytest.raises(expected) as err:
        ps.invoke()
    assert srv.requests == 3  # counted although it failed
    if fault == "http500":
        assert err.value.code == 1359
    if fault == "auth":  # the credentials stay "wrong" for this session: its clean-up fails too
        with pytest.raises(AuthenticationError):
            pool.close()
    srv.clear_faults()
    assert client_for(srv).execute_cmd("echo back")[0] == "back\r\n"  # a new session works again


def test_slow_receive_is_retried_and_loses_nothing(make_server: ServerFactory) -> None:
    srv = make_server()
    with RunspacePool(wsman_for(srv, read_timeout=1)) as pool:
        ps = PowerShell(pool)
        ps.add_script("x").add_parameter("Output", ["kept"])
        srv.inject("slow", at=2, seconds=1.2)  # the Receive: pypsrp retries a Receive on read timeout
        assert ps.invoke() == ["kept"]  # the abandoned Receive was not carried out, so nothing is lost
    assert srv.requests == 2 + 3 + 1  # open, Command + Receive (slow) + Receive (retry), Delete
    assert srv.auth_requests == 6  # the retry re-authenticated on a new connection


def test_persistent_faults_until_cleared(make_server: ServerFactory) -> None:
    srv = make_server()
    srv.inject("down")
    with pytest.raises(requests.exceptions.ConnectionError):
        client_for(srv).execute_cmd("echo x")
    assert srv.requests == 0  # refused before any request was read
    srv.inject("http500")  # replaces "down"
    for _ in range(2):
        with pytest.raises(WSManFaultError):
            client_for(srv).execute_cmd("echo x")
    assert srv.requests == 2
    srv.clear_faults()
    assert client_for(srv).execute_cmd("echo ok")[0] == "ok\r\n"
    with pytest.raises(ValueError):
        srv.inject("meteor")


def test_latency_is_added_per_request(make_server: ServerFactory) -> None:
    srv = make_server()
    srv.latency = 0.15
    started = time.monotonic()
    with RunspacePool(wsman_for(srv)):
        pass
    assert time.monotonic() - started >= 3 * 0.15  # Create + Receive + Delete
    assert srv.requests == 3
