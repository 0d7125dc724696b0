"""The PowerShell plug-in shell (``http://schemas.microsoft.com/powershell/…``): PSRP over WinRS.

The PSRP state machine is psrpcore's :class:`~psrpcore.ServerRunspacePool`; this module moves its
fragments in and out of WS-Man messages the way a Windows host does:

* Create carries the first fragments (SessionCapability, InitRunspacePool) in ``creationXml``; the
  first Receive answers SessionCapability, ApplicationPrivateData and RunspacePoolState(Opened)
  (real hosts often split the state into a second Receive; pypsrp accepts both, and one Receive
  keeps a pool open at two requests);
* Command carries a pipeline's first fragment, Send the rest and the pipeline input (a large
  pipeline arrives over several Sends); Receive long-polls for the pipeline's output;
* every message body goes out with a UTF-8 BOM, one ``rsp:Stream`` per message, fragmented to fit
  the client's MaxEnvelopeSize; the pipeline's last Receive also carries ``CommandState/Done``;
* ``Signal powershell/signal/ctrl_c`` stops a running pipeline, ``…/Terminate`` closes it.

A pipeline is one script (see ``docs/design.md``): its text, named parameters and input go to
:meth:`NodeBackend.invoke_script` on a worker thread; outputs become PSRP output objects (dicts →
Hashtable, lists → arrays), ``errors`` error records, an exception a failed pipeline.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import functools
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psrpcore
from psrpcore import (
    CreatePipelineEvent,
    EndOfPipelineInputEvent,
    GetAvailableRunspacesEvent,
    PipelineInputEvent,
    PSRPPayload,
    ResetRunspaceStateEvent,
    ServerPipeline,
    ServerRunspacePool,
    SetMaxRunspacesEvent,
    SetMinRunspacesEvent,
    StreamType,
)
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSDouble,
    PSInvocationState,
    PSObject,
    PSRPMessageType,
    PSVersion,
    SessionCapability,
)

from clpbackup.testing.backend import NodeBackend, PipelineCommand, ScriptOutcome, run_cancellable
from clpbackup.testing.wsman import (
    COMMAND_STATE_DONE,
    SIGNAL_CTRL_C,
    SIGNAL_PS_CRTL_C,
    SIGNAL_PS_CTRL_C,
    SIGNAL_TERMINATE,
    HostInfo,
    Shell,
    WSManFault,
    WSManRequest,
    command_state_xml,
    element,
    stream_xml,
)

__all__ = ["PSRPShell", "application_private_data", "to_plain", "to_ps"]

log = logging.getLogger(__name__)

BOM = b"\xef\xbb\xbf"
_FRAGMENT_HEADER = 21  # object id, fragment id, start/end flags, length
_MESSAGE_HEADER = 40  # destination, type, RPID, PID
_STREAM_OVERHEAD = 160  # <rsp:Stream Name=.. CommandId=..></rsp:Stream>
_ENVELOPE_OVERHEAD = 2048  # SOAP header and ReceiveResponse wrapper
_DEFAULT_MAX_ENVELOPE = 153600

# Version numbers a host of each PowerShell version reports in its PSVersionTable.
_VERSIONS = {
    "2.0": ("6.1.7601.17514", "2.0.50727.5420", "2.0"),
    "3.0": ("6.2.9200.16398", "4.0.30319.18010", "3.0"),
    "4.0": ("6.3.9600.16394", "4.0.30319.34014", "3.0"),
    "5.1": ("10.0.14393.0", "4.0.30319.42000", "3.0"),
}


def application_private_data(ps_version: str, protocol_version: str) -> dict[str, Any]:
    """The ApplicationPrivateData a host of that PowerShell version sends on pool open."""
    build, clr, wsman_stack = _VERSIONS.get(ps_version, ("10.0.14393.0", "4.0.30319.42000", "3.0"))
    major = int(ps_version.split(".")[0]) if ps_version[:1].isdigit() else 2
    compatible = [PSVersion(f"{v}.0") for v in range(1, major + 1)]
    if not ps_version.endswith(".0"):
        compatible.append(PSVersion(ps_version))  # 5.1 lists 1.0 … 5.0 and 5.1
    table: dict[str, Any] = {
        "PSVersion": PSVersion(ps_version),
        "PSCompatibleVersions": compatible,
        "BuildVersion": PSVersion(build),
        "CLRVersion": PSVersion(clr),
        "WSManStackVersion": PSVersion(wsman_stack),
        "PSRemotingProtocolVersion": PSVersion(protocol_version),
        "SerializationVersion": PSVersion("1.1.0.1"),
    }
    if major >= 5:
        table["PSEdition"] = "Desktop"
    if major not in (3, 4):
        return {"PSVersionTable": table}
    # PowerShell 3.0 and 4.0 hosts also describe the remote debugger (5.1 no longer does).
    return {"DebugMode": 1, "DebugStop": False, "PSVersionTable": table, "DebugBreakpointCount": 0}


class _Pool(ServerRunspacePool):
    """psrpcore's server pool, writing message bodies with a UTF-8 BOM as Windows hosts do."""

    def prepare_message(
        self,
        message: PSObject | None,
        message_type: PSRPMessageType | None = None,
        pipeline_id: uuid.UUID | None = None,
        stream_type: StreamType = StreamType.default,
    ) -> None:
        super().prepare_message(message, message_type, pipeline_id, stream_type)
        queued = self._send_buffer[-1]
        if isinstance(message, SessionCapability):
            # Windows writes protocolversion first; psrpcore writes PSVersion first.
            queued._data[_MESSAGE_HEADER:] = (
                '<Obj RefId="0"><MS>'
                f'<Version N="protocolversion">{message.protocolversion}</Version>'
                f'<Version N="PSVersion">{message.PSVersion}</Version>'
                f'<Version N="SerializationVersion">{message.SerializationVersion}</Version>'
                "</MS></Obj>"
            ).encode()
        if len(queued) > _MESSAGE_HEADER:  # EndOfPipelineInput / $null output have no body
            queued._data[_MESSAGE_HEADER:_MESSAGE_HEADER] = BOM


# --- value conversion -----------------------------------------------------------------------------


def to_plain(value: Any) -> Any:
    """A deserialized PSRP value as plain Python (str, int, float, bool, bytes, None, list, dict)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, Mapping):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.timedelta, uuid.UUID)):
        return value
    if isinstance(value, PSObject):
        props: dict[str, Any] = {}
        for prop in list(value.PSObject.adapted_properties) + list(value.PSObject.extended_properties):
            props[prop.name] = to_plain(prop.get_value(value))
        if props:
            return props
        return str(value)
    return value


def to_ps(value: Any) -> Any:
    """A plain Python value ready for psrpcore's serializer (floats as Double, tuples as arrays)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return PSDouble(value)  # psrpcore would write a Python float as Single and lose precision
    if isinstance(value, Mapping):
        return {to_ps(k): to_ps(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_ps(v) for v in value]
    return value


# --- pipelines ------------------------------------------------------------------------------------


@dataclass
class _Pipeline:
    command_id: str
    pid: uuid.UUID
    pipeline: ServerPipeline
    inputs: list[Any] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    started: bool = False
    finished: bool = False  # the final PipelineState is queued
    done_reported: bool = False  # CommandState/Done went out


class PSRPShell(Shell):
    """One RunspacePool: a WinRS shell of the PowerShell plug-in."""

    def __init__(
        self,
        shell_id: str,
        resource_uri: str,
        host: HostInfo,
        backend: NodeBackend,
        *,
        creation_xml: bytes,
        max_envelope_size: int,
        input_streams: str = "stdin pr",
        output_streams: str = "stdout",
    ) -> None:
        super().__init__(
            shell_id, resource_uri, host, input_streams=input_streams, output_streams=output_streams
        )
        self.backend = backend
        self.max_envelope_size = max_envelope_size
        self.pool = _Pool(
            application_private_data=application_private_data(backend.ps_version, backend.protocol_version)
        )
        self.pool.our_capability = SessionCapability(
            PSVersion=PSVersion("2.0"),  # what every Windows host puts here, whatever its real version
            protocolversion=PSVersion(backend.protocol_version),
            SerializationVersion=PSVersion("1.1.0.1"),
        )
        self._out: dict[uuid.UUID | None, deque[bytes]] = {None: deque()}
        self._by_command: dict[str, _Pipeline] = {}
        self._by_pid: dict[uuid.UUID, _Pipeline] = {}
        with self.lock:
            self._feed(creation_xml, None)

    # fragments in and out -----------------------------------------------------------------------

    def _fragment_budget(self) -> int:
        """Bytes of PSRP data per rsp:Stream so that one always fits the smallest envelope."""
        return max(1024, (self.max_envelope_size - _ENVELOPE_OVERHEAD - _STREAM_OVERHEAD) * 3 // 4)

    def _feed(self, data: bytes, pipeline_id: uuid.UUID | None) -> None:
        """Give client fragments to psrpcore and act on the events (holding ``lock``)."""
        try:
            self.pool.receive_data(PSRPPayload(data, StreamType.default, pipeline_id))
            while True:
                event = self.pool.next_event()
                if event is None:
                    break
                self._on_event(event)
        except WSManFault:
            raise
        except (psrpcore.PSRPCoreError, ValueError, KeyError, AttributeError) as e:
            raise WSManFault.shell_failure(f"clpbackup simulator: PSRP data not understood: {e}") from None
        finally:
            self._drain()

    def _on_event(self, event: Any) -> None:
        if isinstance(event, CreatePipelineEvent):
            run = self._by_pid[event.pipeline_id]
            if event.pipeline.no_input:
                self._start(run)
        elif isinstance(event, PipelineInputEvent):
            self._by_pid[event.pipeline_id].inputs.append(to_plain(event.data))
        elif isinstance(event, EndOfPipelineInputEvent):
            self._start(self._by_pid[event.pipeline_id])
        elif isinstance(event, GetAvailableRunspacesEvent):
            self.pool.runspace_availability_response(event.ci, 1)
        elif isinstance(event, (SetMaxRunspacesEvent, SetMinRunspacesEvent, ResetRunspaceStateEvent)):
            self.pool.runspace_availability_response(event.ci, True)
        # SessionCapability, InitRunspacePool, PublicKey … are answered by psrpcore itself.

    def _drain(self) -> None:
        """Move psrpcore's queued messages into per-target fragment queues (holding ``lock``)."""
        budget = self._fragment_budget()
        buffer = self.pool._send_buffer  # one message per rsp:Stream, as Windows hosts send them
        while buffer:
            size = min(budget, _FRAGMENT_HEADER + len(buffer[0]))
            payload = self.pool.data_to_send(size)
            if payload is None:
                break
            self._out.setdefault(payload.pipeline_id, deque()).append(payload.data)
        self.changed.notify_all()

    # actions ------------------------------------------------------------------------------------

    def command(self, req: WSManRequest, command_id: str) -> str:
        """Create a pipeline from its first fragment (``rsp:Arguments``)."""
        args = req.body_find("rsp:Arguments")
        try:
            data = base64.b64decode((args.text or "") if args is not None else "", validate=True)
        except ValueError:
            raise WSManFault.shell_failure("The Command's Arguments are not base64 PSRP data.") from None
        if len(data) < _FRAGMENT_HEADER + _MESSAGE_HEADER or not data[16] & 0x1:
            raise WSManFault.shell_failure("The Command does not start with a PSRP CreatePipeline fragment.")
        pid = uuid.UUID(bytes_le=data[_FRAGMENT_HEADER + 24 : _FRAGMENT_HEADER + 40])
        with self.lock:
            if self.closed:
                raise WSManFault.unknown_shell()
            run = _Pipeline(command_id, pid, ServerPipeline(self.pool, pid))
            self._by_command[command_id.upper()] = run
            self._by_pid[pid] = run
            self._out.setdefault(pid, deque())
            self._feed(data, pid)
        return f"<rsp:CommandResponse>{element('rsp:CommandId', command_id)}</rsp:CommandResponse>"

    def _find(self, command_id: str | None) -> _Pipeline:
        """By CommandId, or by pipeline id (pypsrp signals ctrl_c with the pipeline id)."""
        key = (command_id or "").upper()
        run = self._by_command.get(key)
        if run is None:
            try:
                run = self._by_pid.get(uuid.UUID(key))
            except ValueError:
                run = None
        if run is None:
            raise WSManFault.unknown_command()
        return run

    def send(self, req: WSManRequest) -> str:
        """Feed fragments for the pool (no CommandId) or a pipeline (stdin / pr streams)."""
        with self.lock:
            if self.closed:
                raise WSManFault.unknown_shell()
            for stream in req.body_findall("rsp:Stream"):
                command_id = stream.get("CommandId")
                pid = self._find(command_id).pid if command_id else None
                try:
                    data = base64.b64decode(stream.text or "", validate=True)
                except ValueError:
                    raise WSManFault.shell_failure("The Send stream is not base64 PSRP data.") from None
                self._feed(data, pid)
        return "<rsp:SendResponse/>"

    def receive(self, req: WSManRequest, deadline: float) -> str:
        """Answer queued fragments of the pool or of one pipeline; long-poll when there are none."""
        desired = req.body_find("rsp:DesiredStream")
        command_id = desired.get("CommandId") if desired is not None else None
        max_envelope = req.max_envelope_size or _DEFAULT_MAX_ENVELOPE
        with self.lock:
            run = self._find(command_id) if command_id else None
            key = run.pid if run is not None else None
            while True:
                if self.closed:
                    raise WSManFault.unknown_shell()
                queue = self._out.get(key)
                if queue is None:  # the pipeline was closed meanwhile
                    raise WSManFault.unknown_command()
                if queue or (run is not None and run.finished and not run.done_reported):
                    return self._pack(queue, run, command_id, max_envelope)
                if not self.wait_changed(deadline):
                    raise WSManFault.timed_out()

    def _pack(
        self, queue: deque[bytes], run: _Pipeline | None, command_id: str | None, max_envelope: int
    ) -> str:
        room = max_envelope - _ENVELOPE_OVERHEAD
        parts: list[str] = []
        while queue:
            size = (len(queue[0]) + 2) // 3 * 4 + _STREAM_OVERHEAD
            if parts and size > room:
                break
            parts.append(stream_xml("stdout", queue.popleft(), command_id))
            room -= size
        if run is not None and run.finished and not queue:
            # PSRP pipelines end with ExitCode 0 whatever happened; the PipelineState says the rest.
            parts.append(command_state_xml(run.command_id, COMMAND_STATE_DONE, 0))
            run.done_reported = True
        return f"<rsp:ReceiveResponse>{''.join(parts)}</rsp:ReceiveResponse>"

    def signal(self, req: WSManRequest) -> str:
        """ctrl_c stops a running pipeline; Terminate closes it."""
        body = req.body
        command_id = body.get("CommandId") if body is not None else None
        code_el = req.body_find("rsp:Code")
        code = (code_el.text or "").strip() if code_el is not None else ""
        with self.lock:
            run = self._find(command_id)
            if code in (SIGNAL_PS_CTRL_C, SIGNAL_PS_CRTL_C, SIGNAL_CTRL_C, SIGNAL_TERMINATE):
                self._stop(run)
            if code == SIGNAL_TERMINATE:
                run.pipeline.close()
                self._by_command.pop(run.command_id.upper(), None)
                self._by_pid.pop(run.pid, None)
                self._out.pop(run.pid, None)
            self._drain()
        return "<rsp:SignalResponse/>"

    def _stop(self, run: _Pipeline) -> None:
        run.cancel.set()
        if run.pipeline.state in (PSInvocationState.Running, PSInvocationState.Stopping):
            run.pipeline.stop()  # queues PipelineState Stopped with PipelineStoppedException
            run.finished = True
        elif not run.started:
            run.pipeline.state = PSInvocationState.Stopped
            run.finished = True

    def close(self) -> None:
        """Delete the pool: cancel running pipelines, wake pending Receives."""
        with self.lock:
            self.closed = True
            for run in self._by_pid.values():
                run.cancel.set()
            self.changed.notify_all()

    def command_ids(self) -> list[str]:
        """Ids of the pool's pipelines (as WinRS commands)."""
        with self.lock:
            return [r.command_id for r in self._by_command.values()]

    # running a pipeline -------------------------------------------------------------------------

    def _start(self, run: _Pipeline) -> None:
        """Hand the pipeline's script to the backend on a worker thread (holding ``lock``)."""
        if run.started:
            return
        run.started = True
        # Running without a PipelineState message: Windows hosts do not announce it either.
        run.pipeline._change_state(PSInvocationState.Running, emit=False)
        call: Callable[[list[Any]], ScriptOutcome]
        try:
            script, parameters = self._script_of(run)
            call = functools.partial(self.backend.invoke_script, script, parameters)
        except _NotSimulated as e:
            # Optional backend extension (docs/design.md): a pipeline outside the one-script shape
            # (pypsrp's Client.copy / execute_ps, sent by the benchmarks' per-command baseline) goes
            # to ``invoke_pipeline(commands, input)`` when the backend has one; otherwise it fails.
            extension = getattr(self.backend, "invoke_pipeline", None)
            if extension is None:
                self._fail(run, str(e))
                return
            call = functools.partial(extension, _commands_of(run))
        worker = threading.Thread(
            target=self._work, args=(run, call), name=f"psrp-{run.command_id[:8]}", daemon=True
        )
        worker.start()

    def _script_of(self, run: _Pipeline) -> tuple[str, dict[str, Any]]:
        metadata = run.pipeline.metadata
        commands = list(getattr(metadata, "commands", None) or [])
        if len(commands) != 1:
            raise _NotSimulated(
                f"clpbackup simulator: not simulated: a pipeline of {len(commands)} commands; the simulator "
                "runs pipelines of exactly one script (docs/design.md, 'Two remote operations')"
            )
        cmd = commands[0]
        parameters: dict[str, Any] = {}
        for name, value in cmd.parameters:
            if name is None:
                raise _NotSimulated(
                    "clpbackup simulator: not simulated: a positional argument; pass every value as a named "
                    "parameter (add_parameter)"
                )
            parameters[str(name)] = to_plain(value)
        return str(cmd.command_text), parameters

    def _work(self, run: _Pipeline, call: Callable[[list[Any]], ScriptOutcome]) -> None:
        outcome: ScriptOutcome | None = None
        error: str | None = None
        try:
            outcome = run_cancellable(run.cancel, call, list(run.inputs), delegated=self.host.delegated)
        except Exception as e:  # the model refused or broke: a failed pipeline, with its message
            error = str(e) or type(e).__name__
            log.info("pipeline failed in the backend: %s", error)
        with self.lock:
            if run.finished or self.closed or run.cancel.is_set():
                return  # stopped by the client: the late result is discarded
            if outcome is not None:
                try:
                    for obj in outcome.output:
                        run.pipeline.write_output(to_ps(obj))
                    for message in outcome.errors:
                        self._write_error(run, str(message))
                    run.pipeline.complete()
                    run.finished = True
                except Exception as e:  # an output value psrpcore cannot serialize
                    error = f"clpbackup simulator: output not serializable: {type(e).__name__}: {e}"
            if error is not None and not run.finished:
                self._fail(run, error)
            self._drain()

    def _write_error(self, run: _Pipeline, message: str) -> None:
        exception = NETException(Message=message, HResult=-2146233087)
        exception.PSObject.type_names = [
            "Microsoft.PowerShell.Commands.WriteErrorException",
            "System.SystemException",
            "System.Exception",
            "System.Object",
        ]
        run.pipeline.write_error(
            exception,
            ErrorCategoryInfo(Category=ErrorCategory.NotSpecified, Reason="WriteErrorException"),
            fully_qualified_error_id="Microsoft.PowerShell.Commands.WriteErrorException",
        )

    def _fail(self, run: _Pipeline, message: str) -> None:
        """PipelineState Failed with the message as its error record (like a ``throw``)."""
        exception = NETException(Message=message, HResult=-2146233087)
        exception.PSObject.type_names = [
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
            "System.Exception",
            "System.Object",
        ]
        record = ErrorRecord(
            Exception=exception,
            CategoryInfo=ErrorCategoryInfo(
                Category=ErrorCategory.OperationStopped, Reason="RuntimeException"
            ),
            FullyQualifiedErrorId=message,
        )
        record.PSObject.to_string = message
        run.pipeline._change_state(PSInvocationState.Failed, error=record)
        run.finished = True
        self._drain()


def _commands_of(run: _Pipeline) -> list[PipelineCommand]:
    """The pipeline's commands as plain data (for ``invoke_pipeline``)."""
    metadata = run.pipeline.metadata
    return [
        PipelineCommand(
            str(cmd.command_text),
            bool(cmd.is_script),
            [(None if name is None else str(name), to_plain(value)) for name, value in cmd.parameters],
        )
        for cmd in list(getattr(metadata, "commands", None) or [])
    ]


class _NotSimulated(Exception):
    """A pipeline shape the simulator does not run (answered as a failed pipeline)."""
