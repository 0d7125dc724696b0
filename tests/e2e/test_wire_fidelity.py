"""The simulator's answers compared, structurally, with what real Windows hosts answered.

The yardstick is the set of WinRM exchanges the pypsrp project recorded against real hosts
(Windows Server 2008 R2 with PowerShell 2.0 for PSRP 2.1, newer hosts for 2.2/2.3), kept outside
this repository in ``../shared/reference/pypsrp-captures/`` (override with the environment variable
``CLPBACKUP_PYPSRP_CAPTURES``). Each test reads a capture, drives the *same client calls* with
pypsrp against :class:`WinRMServer` (``record=True`` keeps our response envelopes) and compares:
actions, header elements, namespace declarations, body element/attribute structure, server-assigned
ids on WinRM 2.0, the UTF-8 BOM before PSRP message bodies, CommandState values and fault shapes.
Values that differ by nature (GUIDs, addresses, times) are not compared.
"""

from __future__ import annotations

import base64
import os
import re
import struct
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pypsrp.exceptions import WSManFaultError
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool
from pypsrp.shell import Process, SignalCode, WinRS
from pypsrp.wsman import WSMan

from clpbackup.testing.backend import EchoBackend
from clpbackup.testing.server import WinRMServer

CAPTURES = Path(
    os.environ.get(
        "CLPBACKUP_PYPSRP_CAPTURES",
        Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "pypsrp-captures",
    )
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CAPTURES.is_dir(),
        reason=f"the pypsrp captures of real Windows hosts are not here ({CAPTURES}); CI has them",
    ),
]

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "cfg": "http://schemas.microsoft.com/wbem/wsman/1/config",
}
USER = "vagrant"
PASSWORD = "Fidelity!23"

PIPELINE_STATE = 0x00041006
SESSION_CAPABILITY = 0x00010002
APPLICATION_PRIVATE_DATA = 0x00021009
RUNSPACEPOOL_STATE = 0x00021005


# --- reading envelopes ------------------------------------------------------------------------------


def load(name: str) -> list[tuple[str, str]]:
    data = yaml.safe_load((CAPTURES / f"{name}.yml").read_text(encoding="utf-8"))
    return [(m["request"], m["response"]) for m in data["messages"]]


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml.encode("utf-8"))


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def action(xml: str) -> str:
    el = parse(xml).find("s:Header/a:Action", NS)
    if el is None:
        el = parse(xml).find("s:Header/{http://schemas.xmlsoap.org/ws/2004/08/addressing}Action")
    assert el is not None and el.text
    return el.text.rsplit("/", 1)[-1]


def request_action(xml: str) -> str:
    m = re.search(r"<wsa:Action[^>]*>([^<]+)<", xml)
    assert m
    return m.group(1).rsplit("/", 1)[-1]


def header_tags(xml: str) -> list[str]:
    header = parse(xml).find("s:Header", NS)
    assert header is not None
    return [local(c.tag) for c in header]


def ns_decls(xml: str) -> dict[str, str]:
    start = re.match(r"<s:Envelope[^>]*>", xml)
    assert start
    return dict(re.findall(r'xmlns:(\w+)="([^"]+)"', start.group(0)))


def body(xml: str) -> ET.Element:
    el = parse(xml).find("s:Body", NS)
    assert el is not None
    return el


Skeleton = tuple[str, tuple[str, ...], tuple[Any, ...]]


def skeleton(el: ET.Element) -> Skeleton:
    """Tag, attribute names and children's skeletons; runs of identical siblings count once."""
    children: list[Skeleton] = []
    for child in el:
        sk = skeleton(child)
        if not children or children[-1] != sk:
            children.append(sk)
    return (el.tag, tuple(sorted(el.attrib)), tuple(children))


def assert_same_envelope(real: str, ours: str | None, *, body_shape: bool = True) -> None:
    assert ours is not None, "the simulator sent no SOAP answer"
    assert action(ours) == action(real)
    assert header_tags(ours) == header_tags(real)
    assert ns_decls(ours) == ns_decls(real)
    assert parse(ours).attrib == parse(real).attrib  # xml:lang
    if body_shape:
        assert skeleton(body(ours)) == skeleton(body(real))


def streams(xml: str) -> list[ET.Element]:
    return body(xml).findall("rsp:ReceiveResponse/rsp:Stream", NS)


def stream_bytes(xml: str, name: str) -> bytes:
    return b"".join(base64.b64decode(s.text or "") for s in streams(xml) if s.get("Name") == name)


def command_state(xml: str) -> tuple[str, str | None]:
    state = body(xml).find("rsp:ReceiveResponse/rsp:CommandState", NS)
    assert state is not None
    code = state.find("rsp:ExitCode", NS)
    return state.get("State", "").rsplit("/", 1)[-1], code.text if code is not None else None


def psrp_messages(xmls: list[str]) -> Iterator[dict[str, Any]]:
    """PSRP messages carried by the rsp:Stream elements of these Receive responses."""
    pending: dict[int, bytes] = {}
    for xml in xmls:
        for s in streams(xml):
            data = base64.b64decode(s.text or "")
            while data:
                object_id, _fragment_id, flags, length = struct.unpack(">QQBI", data[:21])
                pending[object_id] = pending.get(object_id, b"") + data[21 : 21 + length]
                data = data[21 + length :]
                if flags & 0x2:
                    msg = pending.pop(object_id)
                    destination, message_type = struct.unpack("<II", msg[:8])
                    payload = msg[40:]
                    yield {
                        "destination": destination,
                        "type": message_type,
                        "rpid": uuid.UUID(bytes_le=msg[8:24]),
                        "pid": uuid.UUID(bytes_le=msg[24:40]),
                        "bom": payload.startswith(b"\xef\xbb\xbf"),
                        "data": payload.lstrip(b"\xef\xbb\xbf"),
                    }


def private_data_keys(messages: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Top-level keys of ApplicationPrivateData and the keys of its PSVersionTable."""
    (apd,) = [m for m in messages if m["type"] == APPLICATION_PRIVATE_DATA]
    root = ET.fromstring(apd["data"])
    dct = root.find("MS/Obj/DCT")
    assert dct is not None
    top = [(en.find("S[@N='Key']").text or "") for en in dct.findall("En")]  # type: ignore[union-attr]
    table = dct.find("En[S='PSVersionTable']/Obj/DCT")
    assert table is not None
    inner = [(en.find("S[@N='Key']").text or "") for en in table.findall("En")]  # type: ignore[union-attr]
    return sorted(top), sorted(inner)


def selector_shell_id(create_response: str) -> str:
    sel = body(create_response).find("x:ResourceCreated/a:ReferenceParameters/w:SelectorSet/w:Selector", NS)
    assert sel is not None and sel.text
    return sel.text


# --- driving the simulator ----------------------------------------------------------------------


def start(backend: EchoBackend) -> WinRMServer:
    return WinRMServer(backend, username=USER, password=PASSWORD, record=True).start()


def wsman_for(srv: WinRMServer) -> WSMan:
    return WSMan("127.0.0.1", port=srv.port, ssl=False, username=USER, password=PASSWORD, auth="ntlm")


def winrm3(capture: list[tuple[str, str]]) -> bool:
    """Did the real host speak WinRM 3.0+ (an ActivityId in its headers)?"""
    return any("ActivityId" in resp for _, resp in capture)


# --- WinRS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["test_winrs_standard", "test_winrs_stderr_rc", "test_winrs_unicode"])
def test_winrs_command_exchange_matches_the_real_host(name: str) -> None:
    capture = load(name)
    assert [request_action(req) for req, _ in capture] == ["Create", "Command", "Receive", "Signal", "Delete"]
    create_req, command_req, receive_resp = capture[0][0], capture[1][0], capture[2][1]
    line = body(command_req).find("rsp:CommandLine", NS)
    assert line is not None
    executable = line.find("rsp:Command", NS)
    exe = executable.text or "" if executable is not None else ""
    args = [a.text or "" for a in line.findall("rsp:Arguments", NS)]
    codepage = re.search(r'Name="WINRS_CODEPAGE">(\d+)<', create_req)
    out, err = stream_bytes(receive_resp, "stdout"), stream_bytes(receive_resp, "stderr")
    state, rc = command_state(receive_resp)
    assert state == "Done" and rc is not None
    backend = EchoBackend(
        protocol_version="2.3" if winrm3(capture) else "2.1",
        commands={" ".join([exe, *args]): (int(rc), out, err)},
    )
    with start(backend) as srv:
        with WinRS(wsman_for(srv), codepage=int(codepage.group(1)) if codepage else None) as shell:
            proc = Process(shell, exe, args)
            proc.invoke()
            proc.signal(SignalCode.CTRL_C)
        ours = srv.responses
    assert (proc.stdout, proc.stderr, proc.rc) == (out, err, int(rc))
    assert len(ours) == len(capture)
    for (_, real), mine in zip(capture, ours, strict=True):
        assert_same_envelope(real, mine)
    assert mine is not None
    # Short rsp:Shell in the CreateResponse, with the same streams.
    for field in ("InputStreams", "OutputStreams", "ResourceUri"):
        assert body(ours[0] or "").findtext(f"rsp:Shell/rsp:{field}", namespaces=NS) == body(
            capture[0][1]
        ).findtext(f"rsp:Shell/rsp:{field}", namespaces=NS)
    # The same bytes, the same End markers, the same final state.
    assert stream_bytes(ours[2] or "", "stdout") == out and stream_bytes(ours[2] or "", "stderr") == err
    assert command_state(ours[2] or "") == (state, rc)
    ends = sorted(s.get("Name", "") for s in streams(ours[2] or "") if s.get("End") == "true")
    assert ends == sorted(s.get("Name", "") for s in streams(receive_resp) if s.get("End") == "true")


def test_operation_timeout_fault_matches_the_real_host() -> None:
    capture = load("test_winrs_operation_timeout")
    faults = [resp for _, resp in capture if action(resp) == "fault"]
    assert faults, "the capture has no w:TimedOut fault"
    real_fault = faults[0]
    real_done = next(resp for req, resp in capture if request_action(req) == "Receive" and "Done" in resp)
    backend = EchoBackend(protocol_version="2.3" if winrm3(capture) else "2.1")
    with start(backend) as srv:
        with WinRS(wsman_for(srv)) as shell:
            proc = Process(shell, "sleep", ["1.5"])
            proc.begin_invoke()
            with pytest.raises(WSManFaultError) as err:
                shell.receive("stdout stderr", proc.id, timeout=1)
            proc.end_invoke()
            proc.signal(SignalCode.CTRL_C)
        ours = srv.responses
    assert err.value.code == 2150858793
    our_fault = ours[2]
    assert our_fault is not None
    assert_same_envelope(real_fault, our_fault)
    for path in ("s:Fault/s:Code/s:Value", "s:Fault/s:Code/s:Subcode/s:Value", "s:Fault/s:Reason/s:Text"):
        assert body(our_fault).findtext(path, namespaces=NS) == body(real_fault).findtext(path, namespaces=NS)
    real_detail = body(real_fault).find("s:Fault/s:Detail/f:WSManFault", NS)
    our_detail = body(our_fault).find("s:Fault/s:Detail/f:WSManFault", NS)
    assert real_detail is not None and our_detail is not None
    assert our_detail.get("Code") == real_detail.get("Code")
    assert our_detail.findtext("f:Message", namespaces=NS) == real_detail.findtext("f:Message", namespaces=NS)
    # …and after the wait, the Done answer has the shape of the real one (no output this time).
    assert_same_envelope(real_done, ours[3], body_shape=False)
    assert command_state(ours[3] or "") == ("Done", "0")


# --- PSRP -----------------------------------------------------------------------------------------


def test_runspace_pool_open_matches_the_real_host() -> None:
    capture = load("test_psrp_open_runspace")
    assert [request_action(req) for req, _ in capture] == ["Create", "Receive", "Receive", "Delete"]
    real_messages = list(psrp_messages([resp for _, resp in capture[1:3]]))
    version = re.search(rb'N="protocolversion">([\d.]+)<', real_messages[0]["data"])
    assert version
    backend = EchoBackend(protocol_version=version.group(1).decode(), ps_version="5.1")
    with start(backend) as srv:
        pool = RunspacePool(wsman_for(srv))
        pool.open()
        pool.close()
        ours = srv.responses
    # One Receive carries what the real host sent in two (see psrp_host); the envelopes match.
    assert len(ours) == 3
    assert_same_envelope(capture[0][1], ours[0])
    assert_same_envelope(capture[1][1], ours[1])
    assert_same_envelope(capture[3][1], ours[2])
    our_messages = list(psrp_messages([ours[1] or ""]))
    shape = [(m["destination"], m["type"], m["bom"]) for m in our_messages]
    assert shape == [(m["destination"], m["type"], m["bom"]) for m in real_messages]
    assert shape == [
        (1, SESSION_CAPABILITY, True),
        (1, APPLICATION_PRIVATE_DATA, True),
        (1, RUNSPACEPOOL_STATE, True),
    ]
    # The SessionCapability goes out before the pool has its id, on real hosts as here.
    assert our_messages[0]["rpid"] == real_messages[0]["rpid"] == uuid.UUID(int=0)
    assert our_messages[0]["data"] == real_messages[0]["data"]
    assert private_data_keys(our_messages) == private_data_keys(real_messages)


PS_VERSION_OF_PROTOCOL = {"2.1": "2.0", "2.2": "4.0", "2.3": "5.1"}


@pytest.mark.parametrize("protocol", ["2.1", "2.2", "2.3"])
def test_pipeline_run_matches_the_real_host(protocol: str) -> None:
    capture = load(f"test_psrp_run_protocol_version_{protocol}")
    actions = [request_action(req) for req, _ in capture]
    assert actions == ["Create", "Receive", "Receive", "Command", "Send", "Receive", "Delete"]
    real = {
        name: resp
        for name, (_, resp) in zip(
            ["create", "r1", "r2", "command", "send", "run", "delete"], capture, strict=True
        )
    }
    real_requests = [req for req, _ in capture]
    real_open = list(psrp_messages([real["r1"], real["r2"]]))
    real_run = list(psrp_messages([real["run"]]))

    backend = EchoBackend(protocol_version=protocol, ps_version=PS_VERSION_OF_PROTOCOL[protocol])
    with start(backend) as srv:
        with RunspacePool(wsman_for(srv)) as pool:
            ps = PowerShell(pool)
            ps.add_script("$input")
            output = ps.invoke(input=["message 1", 2])
            assert pool.protocol_version == protocol
        ours = srv.responses
        our_requests = srv.received
    assert ps.state == PSInvocationState.COMPLETED and output[0]["input"] == ["message 1", 2]
    assert [request_action(r) for r in our_requests] == [
        "Create",
        "Receive",
        "Command",
        "Send",
        "Receive",
        "Delete",
    ]
    mine = dict(zip(["create", "open", "command", "send", "run", "delete"], ours, strict=True))

    # Create: no rsp:Shell from WinRM 2.0, the full one from 3.0+; ids assigned by WinRM 2.0 only.
    assert_same_envelope(real["create"], mine["create"])
    proposed_real = re.search(r'<rsp:Shell ShellId="([^"]+)"', real_requests[0])
    proposed_ours = re.search(r'<rsp:Shell ShellId="([^"]+)"', our_requests[0])
    assert proposed_real and proposed_ours
    real_assigned = selector_shell_id(real["create"]) != proposed_real.group(1)
    assert real_assigned == (protocol == "2.1")
    assert (selector_shell_id(mine["create"] or "") != proposed_ours.group(1)) == real_assigned

    # Command: the CommandId answered is the client's from 2.2 on, a new one on 2.1.
    assert_same_envelope(real["command"], mine["command"])

    def command_ids(request: str, response: str) -> tuple[str, str]:
        proposed = re.search(r'<rsp:CommandLine CommandId="([^"]+)"', request)
        answered = body(response).findtext("rsp:CommandResponse/rsp:CommandId", namespaces=NS)
        assert proposed and answered
        return proposed.group(1), answered

    real_ids = command_ids(real_requests[3], real["command"])
    our_ids = command_ids(our_requests[2], mine["command"] or "")
    assert (real_ids[0] != real_ids[1]) == (our_ids[0] != our_ids[1]) == (protocol == "2.1")

    assert_same_envelope(real["send"], mine["send"])
    assert_same_envelope(real["delete"], mine["delete"])

    # The pipeline's Receive: streams for the command, then CommandState Done with ExitCode 0.
    assert_same_envelope(real["run"], mine["run"])
    assert command_state(mine["run"] or "") == command_state(real["run"]) == ("Done", "0")
    for s in streams(mine["run"] or ""):
        assert s.get("CommandId") == our_ids[1]
    our_run = list(psrp_messages([mine["run"] or ""]))
    for messages in (real_run, our_run):
        assert all(m["bom"] and m["destination"] == 1 for m in messages)
        assert messages[-1]["type"] == PIPELINE_STATE
        assert b'<I32 N="PipelineState">4</I32>' in messages[-1]["data"]  # Completed
    assert our_run[-1]["pid"] == uuid.UUID(our_ids[0])  # PSRP keeps the client's pipeline id

    # Pool open: same messages (ours in one Receive), same protocol version, same private data keys.
    our_open = list(psrp_messages([mine["open"] or ""]))
    assert [(m["type"], m["bom"]) for m in our_open] == [(m["type"], m["bom"]) for m in real_open]
    assert our_open[0]["data"] == real_open[0]["data"]  # SessionCapability, protocolversion included
    assert private_data_keys(our_open) == private_data_keys(real_open)


def test_config_get_answers_like_a_2008_r2_host() -> None:
    capture = load("test_wsman_update_envelope_size_150")
    (_, real) = capture[0]
    with start(EchoBackend(protocol_version="2.1", ps_version="2.0")) as srv:
        wsman = wsman_for(srv)
        wsman.update_max_payload_size()
        (ours,) = srv.responses
    assert wsman.max_envelope_size == 150 * 1024
    assert ours is not None
    assert_same_envelope(real, ours, body_shape=False)
    real_config = body(real).find("cfg:Config", NS)
    our_config = body(ours).find("cfg:Config", NS)
    assert real_config is not None and our_config is not None
    assert our_config.findtext("cfg:MaxEnvelopeSizekb", namespaces=NS) == real_config.findtext(
        "cfg:MaxEnvelopeSizekb", namespaces=NS
    )
    real_paths = {f"{local(c.tag)}/{local(g.tag)}" for c in real_config for g in c} | {
        local(c.tag) for c in real_config
    }
    our_paths = {f"{local(c.tag)}/{local(g.tag)}" for c in our_config for g in c} | {
        local(c.tag) for c in our_config
    }
    assert our_paths <= real_paths  # a subset of the real configuration, nothing invented
