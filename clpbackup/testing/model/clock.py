"""A simulated clock shared by the nodes of a simulated cluster.

The clock holds UTC time (an aware :class:`~datetime.datetime`); each node sees it through its own
time zone (:class:`NodeTime`). Time never moves by itself: it moves when a test calls
``advance()`` (or ``SimulatedCluster.advance``), so every run of the simulator is reproducible.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

DEFAULT_START = datetime(2024, 1, 15, 0, 0, 0, tzinfo=timezone.utc)
"""Where a new clock starts unless told otherwise: a Monday, 00:00 UTC."""


class SimClock:
    """Simulated UTC time. Thread-safe; moves only forward."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or DEFAULT_START
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        self._now = start.astimezone(timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current simulated time (aware, UTC)."""
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        """Move to ``when`` (aware; never backwards: the past is where backups were taken)."""
        if when.tzinfo is None:
            raise ValueError("SimClock.set needs an aware datetime")
        when = when.astimezone(timezone.utc)
        with self._lock:
            if when < self._now:
                raise ValueError(f"the simulated clock cannot go back from {self._now} to {when}")
            self._now = when

    def advance(self, *, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
        """Move forward by the given amount; returns the new time."""
        delta = timedelta(hours=hours, minutes=minutes, seconds=seconds)
        if delta < timedelta(0):
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._now += delta
            return self._now


def make_tz(tz: str | int | tzinfo | None) -> tzinfo:
    """A tzinfo from an IANA name (``Asia/Tokyo``), an offset in minutes, a tzinfo, or ``None`` (UTC)."""
    if tz is None:
        return timezone.utc
    if isinstance(tz, tzinfo):
        return tz
    if isinstance(tz, int):
        return timezone(timedelta(minutes=tz))
    if tz.upper() == "UTC":
        return timezone.utc
    return ZoneInfo(tz)


class NodeTime:
    """A node's view of the shared clock: its local time zone."""

    def __init__(self, clock: SimClock, tz: str | int | tzinfo | None = None) -> None:
        self.clock = clock
        self.tz = make_tz(tz)

    def utc(self) -> datetime:
        """Now, aware UTC."""
        return self.clock.now()

    def local(self) -> datetime:
        """Now in the node's local time, naive (as Windows tools print it)."""
        return self.to_local(self.clock.now())

    def to_local(self, when: datetime) -> datetime:
        """An aware instant as naive local time of this node."""
        return when.astimezone(self.tz).replace(tzinfo=None)

    def to_utc(self, local: datetime) -> datetime:
        """Naive local time of this node as an aware UTC instant."""
        return local.replace(tzinfo=self.tz).astimezone(timezone.utc)
