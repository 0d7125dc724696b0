"""Progress and logs of the command line (stderr only; stdout keeps the result, text or JSON).

:class:`Reporter` is the ``progress(node, event)`` callback of
:class:`~clpbackup.operations.ClusterBackup` for the CLI. Per node it keeps the phase (the command,
``running``, ``running 45%`` when the tool reports its progress — wbadmin's ``copied (45%)`` read
from its log — or the outcome) and when it began, and shows them on stderr:

* on a terminal, a tqdm bar (``tqdm`` is optional: without it, plain lines);
* otherwise plain lines, once the work has gone on for ``delay`` seconds and then every
  ``interval`` seconds (``CLPBACKUP_PROGRESS_INTERVAL`` sets both; 10 s by default), so a command
  that answers at once prints nothing extra.

Every event is also logged (logger ``clpbackup.cli``, INFO): which node was asked what, and how
long it took. :func:`setup_logging` wires ``-v/--verbose`` and ``--log-file``. Nothing here sees a
secret: events are node names, phases and times.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import time
from typing import Any, TextIO

log = logging.getLogger("clpbackup.cli")

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(
    verbose: int, log_file: str | None, stream: TextIO | None = None
) -> logging.Handler | None:
    """``-v`` logs INFO to stderr (``-vv`` DEBUG); ``--log-file PATH`` appends DEBUG records to PATH.

    Without either, warnings (a retry, a pool that could not be closed) still reach stderr as one
    line each. Returns the file handler (to close), if any.
    """
    root = logging.getLogger("clpbackup")
    for h in list(root.handlers):
        if getattr(h, "_clpbackup_cli", False):
            root.removeHandler(h)
            h.close()
    console = logging.StreamHandler(stream or sys.stderr)
    console.setLevel(logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG)
    console.setFormatter(logging.Formatter(_FORMAT if verbose > 0 else "%(message)s"))
    console._clpbackup_cli = True  # type: ignore[attr-defined]
    root.addHandler(console)
    handler: logging.Handler | None = None
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._clpbackup_cli = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    level = logging.DEBUG if (log_file or verbose > 1) else logging.INFO if verbose else logging.WARNING
    root.setLevel(level)
    # the libraries under the transport log payloads below WARNING; keep them out (SEC-1)
    from clpbackup.transport._logging import quiet_libraries

    quiet_libraries()
    return handler


def teardown_logging() -> None:
    """Remove what :func:`setup_logging` added (the CLI's handlers, its level): ``main()`` may run
    again in the same process (tests, the docs' samples) with other streams."""
    root = logging.getLogger("clpbackup")
    for h in list(root.handlers):
        if getattr(h, "_clpbackup_cli", False):
            root.removeHandler(h)
            h.close()
    root.setLevel(logging.NOTSET)


def _interval() -> float:
    try:
        return max(0.05, float(os.environ.get("CLPBACKUP_PROGRESS_INTERVAL", "10")))
    except ValueError:
        return 10.0


def _elapsed(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{seconds:.1f}s"


class Reporter:
    """Per-node progress of one CLI command on stderr (see the module docstring)."""

    def __init__(
        self,
        command: str,
        *,
        stream: TextIO | None = None,
        enabled: bool = True,
        bar: bool | None = None,
        interval: float | None = None,
    ) -> None:
        self.command = command
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.interval = interval if interval is not None else _interval()
        self.delay = self.interval
        self._lock = threading.Lock()
        self._phase: dict[str, tuple[str, float]] = {}
        self._began = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: Any = None
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        if enabled and (bar if bar is not None else tty):
            try:
                tqdm = importlib.import_module("tqdm").tqdm
            except ImportError:  # tqdm is optional: plain lines then
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(
                    total=None, desc=command, file=self.stream, leave=False, delay=1.0, bar_format=(
                        "{desc}: {elapsed} {postfix}"
                    ),
                )
        if enabled and self._bar is None:
            self._thread = threading.Thread(target=self._tick, name="clpbackup-progress", daemon=True)
            self._thread.start()

    # -- the callback -------------------------------------------------------------------------------

    def __call__(self, node: str, event: str) -> None:
        now = time.monotonic()
        with self._lock:
            before = self._phase.get(node)
            phase = self.command if event == "start" else event
            if event == "done":
                took = now - before[1] if before else 0.0
                log.info("%s: %s done in %.2f s", node, self.command, took)
                self._phase.pop(node, None)
            else:
                if before is None or before[0] != phase:
                    log.info("%s: %s", node, phase if event != "start" else f"{self.command} started")
                start = before[1] if before is not None and event != "start" else now
                self._phase[node] = (phase, start)
            if self._bar is not None:
                self._bar.set_postfix_str(self._status(now), refresh=True)

    def _status(self, now: float) -> str:
        return "; ".join(f"{n}: {p} {_elapsed(now - t)}" for n, (p, t) in self._phase.items())

    def _tick(self) -> None:
        if self._stop.wait(self.delay):
            return
        while True:
            now = time.monotonic()
            with self._lock:
                lines = [f"{n}: {p}, {_elapsed(now - t)}" for n, (p, t) in self._phase.items()]
            for line in lines:
                print(f"clpbackup {self.command}: {line}", file=self.stream, flush=True)
            if self._stop.wait(self.interval):
                return

    def close(self) -> None:
        """Stop the periodic lines / close the bar; logs how long the command took."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self._bar is not None:
            self._bar.close()
        log.info("%s finished in %.2f s", self.command, time.monotonic() - self._began)

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
