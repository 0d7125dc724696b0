"""A recording TCP relay for the reliability tests: what really crossed the network.

:class:`Tap` listens on 127.0.0.1 and forwards every connection to a simulated node's port, keeping
each byte in both directions, so a test can assert on the wire itself: that messages are sealed,
that nothing was sent at all, that no password crossed it.
"""

from __future__ import annotations

import socket
import threading

__all__ = ["Tap"]


class Tap:
    """A TCP relay on 127.0.0.1 in front of ``target_port`` that keeps every byte it forwards."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.upstream = bytearray()  # client → node
        self.downstream = bytearray()  # node → client
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    def start(self) -> Tap:
        t = threading.Thread(target=self._accept, daemon=True, name=f"tap-{self.port}")
        t.start()
        self._threads.append(t)
        return self

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.connections += 1
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            self._sockets += [client, server]
            for src, dst, buf in ((client, server, self.upstream), (server, client, self.downstream)):
                t = threading.Thread(target=self._pump, args=(src, dst, buf), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket, buf: bytearray) -> None:
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                with self._lock:
                    buf += chunk
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        for s in list(self._sockets):
            try:
                s.shutdown(socket.SHUT_RDWR)  # wakes a pump blocked in recv (close alone does not)
            except OSError:
                pass
            s.close()
        for t in self._threads:
            t.join(timeout=1)

    def wire(self) -> bytes:
        with self._lock:
            return bytes(self.upstream) + bytes(self.downstream)
