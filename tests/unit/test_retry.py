"""The transport's retry policy: what is retried, how often, how long it waits."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

from clpbackup.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    NodeTimeout,
    ParseError,
    RemoteCommandFailed,
)
from clpbackup.transport._errors import map_error
from clpbackup.transport.retry import RetryPolicy, is_retryable


class Flaky:
    """Raises the given errors in turn, then returns ``"ok"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def fault(code: int, reason: str = "") -> WSManFaultError:
    return WSManFaultError(code, "m", reason, None, None, None)


RETRYABLE: list[BaseException] = [
    requests.exceptions.ConnectionError("refused"),
    requests.exceptions.ReadTimeout("read timed out"),
    requests.exceptions.ConnectTimeout("connect timed out"),
    WinRMTransportError("http", 500, "oops"),
    WinRMTransportError("http", 503, "busy"),
    fault(2150858793, "OperationTimeout"),
    fault(2150858843, "the shell was not found on the server"),
    fault(1359, "InternalError"),
    fault(
        1, "The request for the Windows Remote Shell failed because the shell was not found on the server."
    ),
]
NOT_RETRYABLE: list[BaseException] = [
    AuthenticationError("Failed to authenticate"),
    requests.exceptions.SSLError("certificate verify failed"),
    WinRMTransportError("http", 404, "not found"),
    WinRMTransportError("http", 401, "unauthorized"),
    fault(5, "Access is denied."),
    fault(2150858770, "other"),
    ValueError("a bug"),
    ParseError("x", "text", "reason"),
    NodeTimeout("past the deadline", node="n"),
    RemoteCommandFailed("pipeline failed", node="n"),
    AuthenticationFailed("no", node="n"),
]


@pytest.mark.parametrize("exc", RETRYABLE, ids=lambda e: f"{type(e).__name__}-{e}"[:60])
def test_retryable_raw_and_mapped(exc: BaseException) -> None:
    assert is_retryable(exc)
    mapped = map_error(exc, node="node-a", phase="inspect")
    assert is_retryable(mapped) and mapped.node == "node-a"
    assert isinstance(mapped, ConnectionFailed)


@pytest.mark.parametrize("exc", NOT_RETRYABLE, ids=lambda e: f"{type(e).__name__}-{e}"[:60])
def test_not_retryable_raw_and_mapped(exc: BaseException) -> None:
    assert not is_retryable(exc)
    assert not is_retryable(map_error(exc, node="node-a", phase="inspect"))


def test_succeeds_after_transient_failures_with_growing_waits() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(
        attempts=3, initial=0.5, max_wait=8, jitter=0.25, sleep=sleeps.append, random=lambda: 1.0
    )
    fn = Flaky(requests.exceptions.ConnectionError("x"), WinRMTransportError("http", 500, "y"))
    assert policy.call(fn, what="inspect", node="node-a") == "ok"
    assert fn.calls == 3
    assert sleeps == [0.75, 1.25]  # 0.5 + jitter, 1.0 + jitter


def test_gives_up_after_the_attempts_and_raises_the_last_error() -> None:
    sleeps: list[float] = []
    last = requests.exceptions.ConnectionError("third")
    fn = Flaky(
        requests.exceptions.ConnectionError("first"), requests.exceptions.ConnectionError("second"), last
    )
    with pytest.raises(requests.exceptions.ConnectionError) as info:
        RetryPolicy(attempts=3, sleep=sleeps.append).call(fn, what="open", node="node-a")
    assert info.value is last and fn.calls == 3 and len(sleeps) == 2


def test_a_non_retryable_error_is_raised_at_once() -> None:
    sleeps: list[float] = []
    fn = Flaky(AuthenticationError("no"), requests.exceptions.ConnectionError("never reached"))
    with pytest.raises(AuthenticationError):
        RetryPolicy(attempts=5, sleep=sleeps.append).call(fn, what="open", node="node-a")
    assert fn.calls == 1 and sleeps == []


def test_zero_retries() -> None:
    fn = Flaky(requests.exceptions.ConnectionError("x"))
    sleeps: list[float] = []
    with pytest.raises(requests.exceptions.ConnectionError):
        RetryPolicy.none().call(fn, what="inspect", node="n")
    with pytest.raises(requests.exceptions.ConnectionError):
        RetryPolicy(attempts=1, sleep=sleeps.append).call(
            Flaky(requests.exceptions.ConnectionError("y")), what="inspect", node="n"
        )
    assert fn.calls == 1 and sleeps == []


def test_on_retry_sees_each_failure_before_the_next_attempt(caplog: Any) -> None:
    seen: list[str] = []
    fn = Flaky(requests.exceptions.ConnectionError("a"), requests.exceptions.ConnectionError("b"))
    caplog.set_level("WARNING", logger="clpbackup.transport")
    RetryPolicy(attempts=3, sleep=lambda s: None).call(
        fn, what="inspect", node="node-b", on_retry=lambda e: seen.append(str(e))
    )
    assert seen == ["a", "b"]
    assert "inspect on node-b failed (attempt 1 of 3, ConnectionError); retrying" in caplog.text


def test_waits_are_bounded_exponential_with_jitter() -> None:
    low = RetryPolicy(attempts=8, initial=0.5, max_wait=8, jitter=0.5, random=lambda: 0.0)
    high = RetryPolicy(attempts=8, initial=0.5, max_wait=8, jitter=0.5, random=lambda: 0.999999)
    assert [low.wait_before(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(h <= 8.0 for h in (high.wait_before(n) for n in range(1, 8)))
    assert high.wait_before(1) == pytest.approx(1.0, abs=1e-5)
    assert low.waits()[:3] == [(0.5, 1.0), (1.0, 1.5), (2.0, 2.5)] and low.waits()[-1] == (8.0, 8.0)
    real = RetryPolicy()
    for n in range(1, 6):
        assert real.initial * 2 ** (n - 1) <= real.wait_before(n) <= min(real.initial * 2 ** (n - 1) + 0.5, 8)


def test_invalid_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(initial=-1)
