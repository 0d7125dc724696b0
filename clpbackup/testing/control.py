"""Drive a running ``clpbackup simulate`` from a second shell (``clpbackup sim advance 24h`` …).

``clpbackup simulate PLAN --write-plan OUT.yaml`` starts, next to its two WinRM endpoints, a small
control endpoint on 127.0.0.1 (:class:`ControlServer`) and writes where it listens and a random token
to ``.clpbackup-sim.json`` in the folder of ``OUT.yaml`` — created with mode 0600, so only its owner
reads the token, and removed when the simulator stops. :class:`ControlClient` reads that file and asks:

* ``advance`` — move the simulated clock (every task and AT job that falls due runs on both nodes);
* ``failover`` / ``failback`` — move the switchover partition and run the start script (FO-1);
* ``status`` — the model time, the owner, the nodes and their endpoints.

Every request carries the token (``Authorization: Bearer …``, compared in constant time); a
request without it changes nothing. Nothing leaves 127.0.0.1. This module controls the simulator
only; it never talks to a real node.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from clpbackup.errors import ClpBackupError

__all__ = ["CONTROL_FILE", "ControlClient", "ControlError", "ControlServer", "parse_duration"]

CONTROL_FILE = ".clpbackup-sim.json"
"""The control file's name, in the folder of the plan ``simulate --write-plan`` wrote."""

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?\s*$")


class ControlError(ClpBackupError):
    """The simulator cannot be reached or refused the request (the message says what to do)."""


def parse_duration(text: str) -> int:
    """Seconds in ``24h``, ``90m``, ``1h30m``, ``2d``, ``45s``; :class:`ValueError` otherwise."""
    m = _DURATION.match(text)
    if not m or not any(m.groups()):
        raise ValueError(f"{text!r} is not a duration (for example 24h, 90m, 1h30m, 2d)")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


class ControlServer:
    """The control endpoint of a running simulator (see the module docstring).

    ``actions`` maps a request path (``advance``, ``failover``, ``failback``, ``status``) to a
    function of the request's JSON body that returns the JSON answer; they run one at a time under
    ``lock``, the lock the simulator's own clock loop takes too.
    """

    def __init__(self, folder: Path, actions: dict[str, Callable[[dict[str, Any]], dict[str, Any]]],
                 lock: threading.Lock) -> None:
        self.token = secrets.token_urlsafe(32)
        self.path = Path(folder) / CONTROL_FILE
        token, acts = self.token, actions

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return  # the simulator's own output stays readable

            def do_POST(self) -> None:
                given = self.headers.get("Authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                    self._answer(403, {"error": "wrong or missing token"})
                    return
                action = acts.get(self.path.strip("/"))
                if action is None:
                    self._answer(404, {"error": f"no such action: {self.path}"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                    with lock:
                        answer = action(body)
                except (ValueError, ClpBackupError) as exc:
                    self._answer(400, {"error": str(exc)})
                    return
                self._answer(200, answer)

            def _answer(self, code: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sim-control", daemon=True)

    def start(self) -> ControlServer:
        """Serve, and write the control file (0600: the token is a credential for this simulator)."""
        self._thread.start()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.chmod(self.path, 0o600)  # O_CREAT's mode does not apply to a file that was already there
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"url": self.url, "token": self.token, "pid": os.getpid()}, f)
        return self

    def stop(self) -> None:
        """Stop serving and remove the control file."""
        self._httpd.shutdown()
        self._httpd.server_close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def __repr__(self) -> str:
        return f"ControlServer(url={self.url!r}, file={str(self.path)!r})"  # never the token


class ControlClient:
    """Ask the simulator whose control file is in ``folder`` (the folder of the written plan)."""

    def __init__(self, folder: str | Path = ".") -> None:
        path = Path(folder) / CONTROL_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            self.url, self._token = str(data["url"]), str(data["token"])
        except FileNotFoundError:
            raise ControlError(
                f"no running simulator here: {path} does not exist; start one with "
                "`clpbackup simulate PLAN --write-plan sim.yaml` and run `clpbackup sim` in the folder of "
                "sim.yaml (or give --dir)"
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ControlError(
                f"{path} cannot be read ({type(exc).__name__}); restart the simulator"
            ) from None

    def call(self, action: str, **body: Any) -> dict[str, Any]:
        """POST ``body`` to ``action``; the JSON answer, or :class:`ControlError` with the reason."""
        req = urllib.request.Request(  # noqa: S310 - the URL is http://127.0.0.1 from the control file
            f"{self.url}/{action}", data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - http://127.0.0.1 only
                answer: dict[str, Any] = json.loads(resp.read())
                return answer
        except urllib.error.HTTPError as exc:
            try:
                reason = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                reason = exc.reason
            raise ControlError(f"the simulator refused {action}: {reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ControlError(
                f"the simulator at {self.url} does not answer ({getattr(exc, 'reason', exc)}); "
                "is `clpbackup simulate` still running?"
            ) from None

    def __repr__(self) -> str:
        return f"ControlClient(url={self.url!r})"  # never the token
