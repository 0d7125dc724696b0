"""Logging of the transport: clpbackup's own logger, and the libraries below it kept quiet.

pypsrp logs whole scripts and PSRP messages (file contents, command lines) at DEBUG/INFO;
requests/urllib3 log request lines and headers; spnego logs authentication steps. None of that may
reach an operator's log (rule SEC-1: a file's contents or a command line may carry something
sensitive). :func:`quiet_libraries` sets those loggers to WARNING *and* attaches a filter to each of
them that drops anything below WARNING, so even ``logging.basicConfig(level=DEBUG)`` or a later
``setLevel(DEBUG)`` on one of them does not let their debug output through.

clpbackup's own logger ``clpbackup.transport`` logs operation names, the node, counts and timings —
never parameter values of writes, command arguments or passwords.
"""

from __future__ import annotations

import logging

__all__ = ["NOISY_LOGGERS", "log", "quiet_libraries"]

log = logging.getLogger("clpbackup.transport")

#: Loggers of the libraries under the transport that log payloads or headers below WARNING.
NOISY_LOGGERS: tuple[str, ...] = ("pypsrp", "psrpcore", "requests", "urllib3", "spnego", "requests_credssp")


class _WarningsOnly(logging.Filter):
    """Drops records below WARNING. Attached to a logger, it sees the records created there."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


_FILTER = _WarningsOnly("clpbackup-quiet")


def _is_noisy(name: str) -> bool:
    return any(name == n or name.startswith(n + ".") for n in NOISY_LOGGERS)


def quiet_libraries() -> None:
    """Keep the noisy libraries at WARNING; idempotent, cheap, safe to call for every session.

    A logger filter only sees records created on that very logger (propagation to the parents
    consults handlers, not the parents' filters), so the filter goes on every existing logger of
    those libraries; calling this after their modules are imported covers all of them.
    """
    manager = logging.Logger.manager
    names = [n for n in list(manager.loggerDict) if _is_noisy(n)]
    for name in {*NOISY_LOGGERS, *names}:
        logger = logging.getLogger(name)
        if name in NOISY_LOGGERS and (logger.level == logging.NOTSET or logger.level < logging.WARNING):
            logger.setLevel(logging.WARNING)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
