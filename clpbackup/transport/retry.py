"""The retry policy of the transport: bounded, exponential backoff with jitter, reads only.

What is retried: connection failures and timeouts at the HTTP level, HTTP 5xx answers, WS-Man
OperationTimeout and shell-not-found faults — and only for **reads**: opening the runspace pool (or
WinRS shell) and the ``inspect`` operation, which change nothing on the node and can run twice.
A retried pool open or inspect first discards the broken pool and opens a fresh one.

``apply`` is **never retried blindly**: when a write pipeline fails half-way, some files may be
written and some commands may have run. The session raises the typed error; the operations layer
(:mod:`clpbackup.operations`) reads the node again with ``inspect``, diffs, and applies only what
is still missing (rule IDEM-1).

Authentication failures, TLS validation failures, pipeline errors, parse errors and deadlines
(:class:`~clpbackup.errors.NodeTimeout`) are never retried: trying again cannot help or would
double the wait.

Zero retries (``RetryPolicy.none()`` or ``attempts=1``) is what tests use.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from clpbackup.transport._errors import is_retryable
from clpbackup.transport._logging import log

__all__ = ["RetryPolicy", "is_retryable"]

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a read is tried again.

    ``attempts`` counts the first try (3 = one try and two retries). The wait before retry ``n``
    (1-based) is ``min(initial * 2**(n-1) + uniform(0, jitter), max_wait)`` seconds.
    ``sleep`` and ``random`` (a ``() -> [0, 1)`` source for the jitter) are injectable for tests.
    """

    attempts: int = 3
    initial: float = 0.5
    max_wait: float = 8.0
    jitter: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts counts the first try and must be at least 1")
        if self.initial < 0 or self.max_wait < 0 or self.jitter < 0:
            raise ValueError("RetryPolicy waits must not be negative")

    @classmethod
    def none(cls) -> RetryPolicy:
        """One try, no retry."""
        return cls(attempts=1)

    def call(
        self,
        fn: Callable[[], T],
        *,
        what: str,
        node: str,
        on_retry: Callable[[BaseException], None] | None = None,
    ) -> T:
        """Run ``fn``; on a retryable error call ``on_retry(error)``, wait, and run it again.

        The last error is raised as it is once the attempts are used up. ``what`` and ``node``
        name the read in the log.
        """

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            wait = state.next_action.sleep if state.next_action is not None else 0.0
            log.warning(
                "%s on %s failed (attempt %d of %d, %s); retrying in %.1f s",
                what,
                node,
                state.attempt_number,
                self.attempts,
                type(exc).__name__,
                wait,
            )
            if on_retry is not None and exc is not None:
                on_retry(exc)

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            reraise=True,
            sleep=self.sleep,
            before_sleep=before_sleep,
        )
        return retrying(fn)

    def wait_before(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the first retry)."""
        base = self.initial * 2 ** (retry - 1)
        return float(min(base + self.jitter * self.random(), self.max_wait))

    def _wait(self, state: RetryCallState) -> float:
        # attempt_number is the attempt that just failed: attempt 1 failed -> first retry.
        return self.wait_before(state.attempt_number)

    def waits(self) -> list[tuple[float, float]]:
        """The (lowest, highest) wait before each retry, for documentation and tests."""
        out = []
        for n in range(1, self.attempts):
            base = self.initial * 2 ** (n - 1)
            out.append((min(base, self.max_wait), min(base + self.jitter, self.max_wait)))
        return out
