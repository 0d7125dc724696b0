"""The WinRS cmd shell (``…/windows/shell/cmd``) of the simulated host.

Each Command's ``rsp:Command`` and ``rsp:Arguments`` joined by spaces is one cmd.exe command line,
handed to :meth:`NodeBackend.run_command_line` on a worker thread. Receive long-polls until it
finishes, then answers the stdout/stderr bytes (already in the node's OEM code page) base64 in
``rsp:Stream`` elements, the ``End="true"`` markers and ``CommandState/Done`` with the exit code —
the shape of the real exchanges in pypsrp's ``test_winrs_*`` captures. Output larger than the
client's MaxEnvelopeSize goes out over several Receives (``CommandState/Running`` in between).
"""

from __future__ import annotations

import base64
import logging
import threading
from dataclasses import dataclass, field

from clpbackup.testing.backend import NodeBackend, run_cancellable
from clpbackup.testing.wsman import (
    COMMAND_STATE_DONE,
    COMMAND_STATE_RUNNING,
    RESOURCE_CMD,
    SIGNAL_CTRL_BREAK,
    SIGNAL_CTRL_C,
    SIGNAL_TERMINATE,
    HostInfo,
    Shell,
    WSManFault,
    WSManRequest,
    command_state_xml,
    element,
    stream_xml,
)

__all__ = ["WinRSShell"]

log = logging.getLogger(__name__)

# Bytes of an envelope that are not stream data (header, tags), kept free when packing output.
_ENVELOPE_OVERHEAD = 4096
_DEFAULT_MAX_ENVELOPE = 153600


@dataclass
class _Command:
    command_id: str
    command_line: str
    cancel: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    rc: int = 0
    stdout: bytes = b""
    stderr: bytes = b""
    failure: str | None = None  # the backend raised: answered as a fault, never as success
    out_sent: int = 0
    err_sent: int = 0
    stdin: bytearray = field(default_factory=bytearray)


class WinRSShell(Shell):
    """One cmd shell: commands run through ``backend.run_command_line``."""

    def __init__(
        self, shell_id: str, host: HostInfo, backend: NodeBackend, *, input_streams: str, output_streams: str
    ) -> None:
        super().__init__(
            shell_id,
            RESOURCE_CMD,
            host,
            input_streams=input_streams or "stdin",
            output_streams=output_streams or "stdout stderr",
        )
        self.backend = backend
        self._commands: dict[str, _Command] = {}

    # actions ------------------------------------------------------------------------------------

    def command(self, req: WSManRequest, command_id: str) -> str:
        """Start ``<Command> <Arguments>…`` as one command line on a worker thread."""
        executable = req.body_find("rsp:Command")
        parts = [(executable.text or "") if executable is not None else ""]
        parts += [a.text or "" for a in req.body_findall("rsp:Arguments")]
        line = " ".join(p for p in parts if p)
        cmd = _Command(command_id, line)
        with self.lock:
            if self.closed:
                raise WSManFault.unknown_shell()
            self._commands[command_id.upper()] = cmd
        worker = threading.Thread(target=self._run, args=(cmd,), name=f"winrs-{command_id[:8]}", daemon=True)
        worker.start()
        return f"<rsp:CommandResponse>{element('rsp:CommandId', command_id)}</rsp:CommandResponse>"

    def _run(self, cmd: _Command) -> None:
        try:
            rc, out, err = run_cancellable(
                cmd.cancel, self.backend.run_command_line, cmd.command_line, delegated=self.host.delegated
            )
        except Exception as e:  # the model refused ("not simulated") or broke: say so loudly
            log.info("WinRS command failed in the backend: %s", e)
            with self.lock:
                cmd.failure = f"clpbackup simulator: {type(e).__name__}: {e}"
                cmd.done = True
                self.changed.notify_all()
            return
        with self.lock:
            cmd.rc, cmd.stdout, cmd.stderr = int(rc), bytes(out), bytes(err)
            cmd.done = True
            self.changed.notify_all()

    def _find(self, command_id: str | None) -> _Command:
        cmd = self._commands.get((command_id or "").upper())
        if cmd is None:
            raise WSManFault.unknown_command()
        return cmd

    def send(self, req: WSManRequest) -> str:
        """Accept stdin for a command (kept; the modelled commands read none)."""
        with self.lock:
            for stream in req.body_findall("rsp:Stream"):
                cmd = self._find(stream.get("CommandId"))
                cmd.stdin += base64.b64decode(stream.text or "")
        return "<rsp:SendResponse/>"

    def receive(self, req: WSManRequest, deadline: float) -> str:
        """Answer the command's output and final state once it finished (long poll)."""
        desired = req.body_find("rsp:DesiredStream")
        command_id = desired.get("CommandId") if desired is not None else None
        with self.lock:
            cmd = self._find(command_id)
            while not cmd.done:
                if self.closed:
                    raise WSManFault.unknown_shell()
                if not self.wait_changed(deadline):
                    raise WSManFault.timed_out()
            if cmd.failure is not None:
                raise WSManFault.shell_failure(cmd.failure)
            return self._pack(cmd, req.max_envelope_size or _DEFAULT_MAX_ENVELOPE)

    def _pack(self, cmd: _Command, max_envelope: int) -> str:
        # base64 inflates by 4/3; keep the envelope under the client's MaxEnvelopeSize.
        budget = max(1024, (max_envelope - _ENVELOPE_OVERHEAD) * 3 // 4)
        chunk = 8192  # real hosts answer output in small blocks, one rsp:Stream each
        parts: list[str] = []
        for name in ("stdout", "stderr"):
            data = cmd.stdout if name == "stdout" else cmd.stderr
            sent = cmd.out_sent if name == "stdout" else cmd.err_sent
            while sent < len(data) and budget > 0:
                take = min(chunk, budget, len(data) - sent)
                parts.append(stream_xml(name, data[sent : sent + take], cmd.command_id))
                sent += take
                budget -= take
            if name == "stdout":
                cmd.out_sent = sent
            else:
                cmd.err_sent = sent
        if cmd.out_sent < len(cmd.stdout) or cmd.err_sent < len(cmd.stderr):
            parts.append(command_state_xml(cmd.command_id, COMMAND_STATE_RUNNING, None))
        else:
            parts.append(stream_xml("stdout", b"", cmd.command_id, end=True))
            parts.append(stream_xml("stderr", b"", cmd.command_id, end=True))
            parts.append(command_state_xml(cmd.command_id, COMMAND_STATE_DONE, cmd.rc))
        return f"<rsp:ReceiveResponse>{''.join(parts)}</rsp:ReceiveResponse>"

    def signal(self, req: WSManRequest) -> str:
        """ctrl_c / ctrl_break / terminate: cancel the command (the backend may return early)."""
        body = req.body
        command_id = body.get("CommandId") if body is not None else None
        code_el = req.body_find("rsp:Code")
        code = (code_el.text or "").strip() if code_el is not None else ""
        with self.lock:
            cmd = self._find(command_id)
            if code in (SIGNAL_CTRL_C, SIGNAL_CTRL_BREAK, SIGNAL_TERMINATE) and not cmd.done:
                cmd.cancel.set()
            if code == SIGNAL_TERMINATE and cmd.done:
                self._commands.pop(cmd.command_id.upper(), None)
        return "<rsp:SignalResponse/>"

    def close(self) -> None:
        """Delete the shell: cancel running commands and wake pending Receives."""
        with self.lock:
            self.closed = True
            for cmd in self._commands.values():
                cmd.cancel.set()
            self.changed.notify_all()

    def command_ids(self) -> list[str]:
        """Ids of the shell's commands."""
        with self.lock:
            return [c.command_id for c in self._commands.values()]
