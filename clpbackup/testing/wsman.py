"""WS-Management SOAP for the simulator: parse requests, build responses and faults, the shell base.

The response envelopes are written as text, element by element, in the shape real WinRM hosts
answer (see the pypsrp captures: ``s``/``a``/``x``/``w``/``rsp``/``p`` prefixes, ``xml:lang`` on
the envelope, ``a:To`` anonymous, ``a:RelatesTo`` the request's MessageID, ``p:ActivityId`` from
WinRM 3.0 on). Building text rather than ElementTree output keeps the prefixes exactly as on the
wire without touching ElementTree's process-wide namespace registry, which pypsrp relies on.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

__all__ = [
    "NS",
    "Shell",
    "WSManFault",
    "WSManRequest",
    "envelope",
    "format_duration",
    "new_id",
    "parse_duration",
    "parse_request",
]

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "e": "http://schemas.xmlsoap.org/ws/2004/08/eventing",
    "n": "http://schemas.xmlsoap.org/ws/2004/09/enumeration",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "cfg": "http://schemas.microsoft.com/wbem/wsman/1/config",
    "pwsh": "http://schemas.microsoft.com/powershell",
}

ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

# wsa:Action values
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
ENUMERATION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/"
ACTION_CREATE = TRANSFER + "Create"
ACTION_DELETE = TRANSFER + "Delete"
ACTION_GET = TRANSFER + "Get"
ACTION_PUT = TRANSFER + "Put"
ACTION_ENUMERATE = ENUMERATION + "Enumerate"
ACTION_COMMAND = SHELL + "Command"
ACTION_SEND = SHELL + "Send"
ACTION_RECEIVE = SHELL + "Receive"
ACTION_SIGNAL = SHELL + "Signal"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

RESOURCE_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
RESOURCE_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
RESOURCE_COMMAND = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command"
RESOURCE_CONFIG = "http://schemas.microsoft.com/wbem/wsman/1/config"
RESOURCE_PSRP_PREFIX = "http://schemas.microsoft.com/powershell/"

COMMAND_STATE_DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
COMMAND_STATE_RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"
COMMAND_STATE_PENDING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Pending"

SIGNAL_CTRL_C = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c"
SIGNAL_CTRL_BREAK = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_break"
SIGNAL_TERMINATE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/Terminate"
SIGNAL_PS_CTRL_C = "powershell/signal/ctrl_c"
SIGNAL_PS_CRTL_C = "powershell/signal/crtl_c"  # the spelling PowerShell itself sends

# Namespace sets of the envelopes real hosts answer with (prefix order as on the wire).
NS_CREATE = ("s", "a", "x", "w", "rsp", "p")
NS_RECEIVE = ("s", "a", "w", "rsp", "p")
NS_DELETE = ("s", "a", "w", "p")
NS_FAULT = ("s", "a", "x", "e", "n", "w", "p")


def new_id() -> str:
    """A new uppercase GUID, the form WinRM uses for ShellId, CommandId and MessageID."""
    return str(uuid.uuid4()).upper()


# --- durations ------------------------------------------------------------------------------------

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str | None, default: float = 60.0) -> float:
    """Seconds of an xs:duration such as ``PT20S`` or ``PT7200.000S`` (``default`` when absent)."""
    if not text:
        return default
    m = _DURATION.match(text.strip())
    if not m:
        return default
    parts = {k: float(v) for k, v in m.groupdict().items() if v}
    return parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)


def format_duration(seconds: float) -> str:
    """``P0DT0H0M5S``: the form WinRM uses for ShellRunTime/ShellInactivity."""
    total = int(seconds)
    d, rest = divmod(total, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"P{d}DT{h}H{m}M{s}S"


# --- requests -------------------------------------------------------------------------------------


@dataclass
class WSManRequest:
    """The parts of a WS-Man request envelope the simulator acts on."""

    action: str
    message_id: str
    resource_uri: str
    to: str
    selectors: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    operation_timeout: float = 60.0
    max_envelope_size: int | None = None
    locale: str = "en-US"
    body: ET.Element | None = None  # first child of s:Body, if any
    size: int = 0  # bytes of the (decrypted) envelope

    def body_find(self, path: str) -> ET.Element | None:
        """``body.find(path)`` with the simulator's prefixes (``rsp:Stream`` …)."""
        if self.body is None:
            return None
        return self.body.find(path, NS)

    def body_text(self, path: str) -> str:
        """Stripped text of ``body.find(path)`` (``""`` when absent)."""
        return _text(self.body_find(path))

    def body_findall(self, path: str) -> list[ET.Element]:
        """``body.findall(path)`` with the simulator's prefixes."""
        if self.body is None:
            return []
        return self.body.findall(path, NS)


def _text(el: ET.Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def parse_request(data: bytes) -> WSManRequest:
    """Parse a SOAP envelope; raises :class:`WSManFault` (``InvalidMessageInformationHeader``)."""
    try:
        # The peer is a test client on 127.0.0.1 and expat refuses entity expansion bombs.
        root = ET.fromstring(data)  # noqa: S314
    except ET.ParseError as e:
        raise WSManFault.invalid_message(f"The request is not well-formed XML: {e}") from None
    header = root.find("s:Header", NS)
    body = root.find("s:Body", NS)
    if header is None or body is None:
        raise WSManFault.invalid_message("The SOAP envelope has no Header or Body.")
    action = _text(header.find("a:Action", NS))
    message_id = _text(header.find("a:MessageID", NS))
    if not action or not message_id:
        raise WSManFault.invalid_message("The request has no wsa:Action or wsa:MessageID.")
    selectors = {
        sel.get("Name", ""): (sel.text or "").strip()
        for sel in header.findall("w:SelectorSet/w:Selector", NS)
    }
    options = {
        opt.get("Name", ""): (opt.text or "").strip() for opt in header.findall("w:OptionSet/w:Option", NS)
    }
    max_env_text = _text(header.find("w:MaxEnvelopeSize", NS))
    locale_el = header.find("w:Locale", NS)
    locale = (
        locale_el.get("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
        if locale_el is not None
        else "en-US"
    )
    children = list(body)
    return WSManRequest(
        action=action,
        message_id=message_id,
        resource_uri=_text(header.find("w:ResourceURI", NS)),
        to=_text(header.find("a:To", NS)),
        selectors=selectors,
        options=options,
        operation_timeout=parse_duration(_text(header.find("w:OperationTimeout", NS)) or None),
        max_envelope_size=int(max_env_text) if max_env_text.isdigit() else None,
        locale=locale,
        body=children[0] if children else None,
        size=len(data),
    )


# --- responses ------------------------------------------------------------------------------------


def envelope(
    action: str,
    relates_to: str,
    body: str,
    *,
    namespaces: tuple[str, ...] = NS_CREATE,
    activity_id: bool = False,
    lang: str = "en-US",
) -> bytes:
    """A response envelope as a WinRM host writes it; ``body`` is the inner XML of ``s:Body``."""
    xmlns = " ".join(f"xmlns:{p}={quoteattr(NS[p])}" for p in namespaces)
    header = [
        f"<a:Action>{escape(action)}</a:Action>",
        f"<a:MessageID>uuid:{new_id()}</a:MessageID>",
    ]
    if activity_id:
        # WinRM 3.0+ (2012) adds an ETW activity id; 2.0 (2003/2008/2008 R2) does not.
        header.append(f"<p:ActivityId>{new_id()}</p:ActivityId>")
    header.append(f"<a:To>{ANONYMOUS}</a:To>")
    header.append(f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>")
    text = (
        f"<s:Envelope xml:lang={quoteattr(lang)} {xmlns}><s:Header>{''.join(header)}</s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )
    return text.encode("utf-8")


def element(tag: str, text: str | None = None, **attrs: str) -> str:
    """``<tag a="v">text</tag>`` with escaping (an empty element when ``text`` is None)."""
    attr = "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items())
    if text is None:
        return f"<{tag}{attr}/>"
    return f"<{tag}{attr}>{escape(text)}</{tag}>"


# --- faults ---------------------------------------------------------------------------------------

_TIMED_OUT = (
    "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  "
)
_INVALID_SELECTORS = (
    "The WS-Management service cannot process the request because the request contained invalid selectors "
    "for the resource. "
)


class WSManFault(Exception):
    """A SOAP fault answered with HTTP 500, in the shape WinRM writes (``s:Fault`` + ``f:WSManFault``)."""

    def __init__(
        self,
        *,
        code: str,
        subcode: str,
        reason: str,
        wsman_code: int,
        message: str | None = None,
        fault_detail: str | None = None,
    ) -> None:
        super().__init__(message or reason)
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.wsman_code = wsman_code
        self.message = message or reason
        self.fault_detail = fault_detail

    def to_xml(self, relates_to: str, *, machine: str, activity_id: bool, lang: str = "en-US") -> bytes:
        """The fault envelope."""
        detail = ""
        if self.fault_detail:
            detail += element("w:FaultDetail", self.fault_detail)
        detail += (
            f'<f:WSManFault xmlns:f="{NS["f"]}" Code="{self.wsman_code}" Machine={quoteattr(machine)}>'
            f"{element('f:Message', self.message)}</f:WSManFault>"
        )
        body = (
            "<s:Fault><s:Code>"
            f"<s:Value>{escape(self.code)}</s:Value>"
            f"<s:Subcode><s:Value>{escape(self.subcode)}</s:Value></s:Subcode>"
            "</s:Code>"
            f"<s:Reason><s:Text xml:lang={quoteattr(lang)}>{escape(self.reason)}</s:Text></s:Reason>"
            f"<s:Detail>{detail}</s:Detail></s:Fault>"
        )
        return envelope(
            ACTION_FAULT, relates_to, body, namespaces=NS_FAULT, activity_id=activity_id, lang=lang
        )

    # Factories for the faults the simulator answers. Codes are the HRESULT-style WSMan error
    # numbers real hosts put in f:WSManFault/@Code (pypsrp's WSManFaultError.code).

    @classmethod
    def timed_out(cls) -> WSManFault:
        """ERROR_WSMAN_OPERATION_TIMEDOUT: a Receive found nothing within OperationTimeout."""
        return cls(code="s:Receiver", subcode="w:TimedOut", reason=_TIMED_OUT, wsman_code=2150858793)

    @classmethod
    def invalid_selectors(cls, message: str) -> WSManFault:
        """ERROR_WSMAN_UNEXPECTED_SELECTORS: unknown ShellId/CommandId."""
        return cls(
            code="s:Sender",
            subcode="w:InvalidSelectors",
            reason=_INVALID_SELECTORS,
            wsman_code=2150858843,
            message=message,
            fault_detail="http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors",
        )

    @classmethod
    def unknown_shell(cls) -> WSManFault:
        """The shell named by the ShellId selector does not exist (closed, or never created)."""
        return cls.invalid_selectors(
            "The request for the Windows Remote Shell with ShellId was not found. The shell may have been "
            "closed, or the ShellId is not valid. "
        )

    @classmethod
    def unknown_command(cls) -> WSManFault:
        """The CommandId does not exist (finished and cleaned up, or invalid)."""
        return cls.invalid_selectors(
            "The Windows Remote Shell received a request to perform an operation on a command identifier "
            "that does not exist. Either the command has completed execution or the client specified an "
            "invalid command identifier. "
        )

    @classmethod
    def internal_error(
        cls, message: str = "The WS-Management service encountered an internal error. "
    ) -> WSManFault:
        """ERROR_INTERNAL_ERROR (1359): what an injected ``http500`` answers."""
        return cls(
            code="s:Receiver",
            subcode="w:InternalError",
            reason="The WS-Management service cannot process the request because of an internal error. ",
            wsman_code=1359,
            message=message,
        )

    @classmethod
    def action_not_supported(cls, action: str) -> WSManFault:
        """ERROR_WSMAN_ACTION_NOT_SUPPORTED: an action the simulator does not implement."""
        return cls(
            code="s:Sender",
            subcode="a:ActionNotSupported",
            reason=f"The action is not supported by the service. Action: {action} ",
            wsman_code=2150858754,
        )

    @classmethod
    def invalid_message(cls, message: str) -> WSManFault:
        """A malformed envelope."""
        return cls(
            code="s:Sender",
            subcode="a:InvalidMessageInformationHeader",
            reason="The WS-Management service cannot process the request. The request is not valid. ",
            wsman_code=2150858817,
            message=message,
        )

    @classmethod
    def invalid_resource(cls, resource_uri: str) -> WSManFault:
        """ERROR_WSMAN_DESTINATION_UNREACHABLE-style: no such resource (shell URI) on this host."""
        return cls(
            code="s:Sender",
            subcode="w:DestinationUnreachable",
            reason=(
                "The WS-Management service cannot process the request because the resource URI "
                "was not found. "
            ),
            wsman_code=2150858813,
            message=f"The WS-Management service does not support the resource URI {resource_uri}. ",
        )

    @classmethod
    def shell_failure(cls, message: str) -> WSManFault:
        """A request the shell cannot carry out (bad stream, bad state); WinRS's generic failure."""
        return cls(
            code="s:Receiver",
            subcode="w:InternalError",
            reason="The WS-Management service cannot process the request. ",
            wsman_code=2150858882,
            message=message,
        )


# --- shells ---------------------------------------------------------------------------------------


@dataclass
class HostInfo:
    """Per-server facts a shell puts in its answers."""

    address: str  # the listener URL (a:Address in ResourceCreated)
    owner: str  # the authenticated user
    client_ip: str
    protocol_version: str  # the backend's PSRP version; "2.1" means a WinRM 2.0 host
    machine: str = "127.0.0.1"
    # The logon of the connection that created the shell holds delegated credentials (Kerberos
    # with a forwarded ticket): what the shell runs may authenticate to a third machine.
    delegated: bool = False

    @property
    def winrm3(self) -> bool:
        """WinRM 3.0 or newer (2012): ActivityId headers, full rsp:Shell for PowerShell shells."""
        return self.protocol_version != "2.1"


class Shell(ABC):
    """A WinRS shell (cmd or PowerShell plug-in) living on the simulated host.

    Subclasses implement the shell actions; each returns the inner XML of ``s:Body`` or raises
    :class:`WSManFault`. ``receive`` may block until ``deadline`` (monotonic seconds) — the server
    answers each connection on its own thread, so a long poll holds only its own connection.
    """

    def __init__(
        self,
        shell_id: str,
        resource_uri: str,
        host: HostInfo,
        *,
        input_streams: str,
        output_streams: str,
        idle_timeout: float = 7200.0,
    ) -> None:
        self.shell_id = shell_id
        self.resource_uri = resource_uri
        self.host = host
        self.input_streams = input_streams
        self.output_streams = output_streams
        self.idle_timeout = idle_timeout
        self.created = time.monotonic()
        self.last_activity = self.created
        self.closed = False
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # notified whenever output or state changes

    # actions ------------------------------------------------------------------------------------

    @abstractmethod
    def command(self, req: WSManRequest, command_id: str) -> str:
        """Start a command with ``command_id``; answer the CommandResponse body."""

    @abstractmethod
    def send(self, req: WSManRequest) -> str:
        """Accept input (stdin/PSRP fragments); answer the SendResponse body."""

    @abstractmethod
    def receive(self, req: WSManRequest, deadline: float) -> str:
        """Answer output, long-polling until ``deadline``; raise ``WSManFault.timed_out()`` then."""

    @abstractmethod
    def signal(self, req: WSManRequest) -> str:
        """Deliver a signal (ctrl_c, terminate); answer the SignalResponse body."""

    @abstractmethod
    def close(self) -> None:
        """Delete the shell: cancel what runs, wake pending Receives."""

    @abstractmethod
    def command_ids(self) -> list[str]:
        """Ids of the commands the shell currently knows (for Enumerate)."""

    # descriptions -------------------------------------------------------------------------------

    def touch(self) -> None:
        """Note client activity (ShellInactivity)."""
        self.last_activity = time.monotonic()

    def wait_changed(self, deadline: float) -> bool:
        """Wait (holding ``lock``) for a change or ``deadline``; False when the deadline passed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.changed.wait(remaining)
        return True

    def shell_xml(self, *, full: bool = True, with_ns: bool = True) -> str:
        """The ``rsp:Shell`` description.

        ``full`` adds what WinRM 3.0+ reports for PowerShell shells (ProcessId, MaxIdleTimeOut,
        locales, State …); cmd shells and WinRM 2.0 answer the short form.
        """
        now = time.monotonic()
        parts = [
            element("rsp:ShellId", self.shell_id),
            element("rsp:ResourceUri", self.resource_uri),
            element("rsp:Owner", self.host.owner),
            element("rsp:ClientIP", self.host.client_ip),
        ]
        if full:
            parts.append(element("rsp:ProcessId", "3208"))
        parts += [
            element("rsp:IdleTimeOut", f"PT{self.idle_timeout:.3f}S"),
            element("rsp:InputStreams", self.input_streams),
            element("rsp:OutputStreams", self.output_streams),
        ]
        if full:
            parts += [
                element("rsp:MaxIdleTimeOut", "PT2147483.647S"),
                element("rsp:Locale", "en-US"),
                element("rsp:DataLocale", "en-US"),
                element("rsp:CompressionMode", "NoCompression"),
                element("rsp:ProfileLoaded", "Yes"),
                element("rsp:Encoding", "UTF8"),
                element("rsp:BufferMode", "Block"),
                element("rsp:State", "Connected"),
            ]
        parts += [
            element("rsp:ShellRunTime", format_duration(now - self.created)),
            element("rsp:ShellInactivity", format_duration(now - self.last_activity)),
        ]
        ns = f' xmlns:rsp="{NS["rsp"]}"' if with_ns else ""
        return f"<rsp:Shell{ns}>{''.join(parts)}</rsp:Shell>"

    def create_response(self) -> str:
        """The CreateResponse body, as real hosts shape it.

        ResourceCreated, then an ``rsp:Shell``: the short form for cmd shells (WinRM 2.0 and 3.0+
        alike), the full form for PowerShell shells on WinRM 3.0+, none for PowerShell shells on
        WinRM 2.0 (see the pypsrp captures).
        """
        created = (
            "<x:ResourceCreated>"
            f"{element('a:Address', self.host.address)}"
            "<a:ReferenceParameters>"
            f"{element('w:ResourceURI', self.resource_uri)}"
            f"<w:SelectorSet>{element('w:Selector', self.shell_id, Name='ShellId')}</w:SelectorSet>"
            "</a:ReferenceParameters></x:ResourceCreated>"
        )
        if self.resource_uri == RESOURCE_CMD:
            return created + self.shell_xml(full=False)
        if self.host.winrm3:
            return created + self.shell_xml(full=True)
        return created


def stream_xml(name: str, data: bytes, command_id: str | None, *, end: bool = False) -> str:
    """One ``rsp:Stream`` element (base64 data)."""
    attrs: dict[str, str] = {"Name": name}
    if command_id is not None:
        attrs["CommandId"] = command_id
    if end:
        attrs["End"] = "true"
    return element("rsp:Stream", base64.b64encode(data).decode("ascii"), **attrs)


def command_state_xml(command_id: str, state: str, exit_code: int | None) -> str:
    """``rsp:CommandState`` (with ExitCode when done)."""
    inner = element("rsp:ExitCode", str(exit_code)) if exit_code is not None else ""
    attrs = f"CommandId={quoteattr(command_id)} State={quoteattr(state)}"
    return f"<rsp:CommandState {attrs}>{inner}</rsp:CommandState>"
