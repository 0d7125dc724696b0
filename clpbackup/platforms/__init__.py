"""One module per Windows Server family behind one interface (:class:`~clpbackup.platforms.base.Platform`).

``get_platform("2008R2")`` returns the platform of a node's OS (2003, 2008, 2008 R2, 2012, 2012 R2,
2016, 2019, 2022): its facts, and the commands of its backup tool, of both schedulers and of
restores as :class:`~clpbackup.commands.Command` objects. Pure.
"""

from __future__ import annotations

from clpbackup.errors import UnsupportedError
from clpbackup.platforms.base import (
    AT_EVERY_DAY,
    ONCE_SCRIPT_MARKER,
    TN_MAX,
    TR_MAX,
    FeatureHint,
    Platform,
    RestoreSteps,
    once_script,
    run_batch,
    run_batch_command,
)
from clpbackup.platforms.win2003 import Win2003
from clpbackup.platforms.win2008 import WbadminPlatform, Win2008, Win2008R2
from clpbackup.platforms.win2012 import Win2012, Win2012R2
from clpbackup.platforms.win2016 import Win2016, Win2019, Win2022

__all__ = [
    "AT_EVERY_DAY",
    "ONCE_SCRIPT_MARKER",
    "PLATFORMS",
    "TN_MAX",
    "TR_MAX",
    "FeatureHint",
    "Platform",
    "RestoreSteps",
    "WbadminPlatform",
    "Win2003",
    "Win2008",
    "Win2008R2",
    "Win2012",
    "Win2012R2",
    "Win2016",
    "Win2019",
    "Win2022",
    "canonical_os",
    "get_platform",
    "once_script",
    "os_for_kernel",
    "product_for_kernel",
    "run_batch",
    "run_batch_command",
]

PLATFORMS: dict[str, type[Platform]] = {
    p.os: p for p in (Win2003, Win2008, Win2008R2, Win2012, Win2012R2, Win2016, Win2019, Win2022)
}

_ALIASES = {"2008-R2": "2008R2", "2012-R2": "2012R2", "2003R2": "2003"}


def canonical_os(os: str) -> str | None:
    """The plan's name of Windows Server ``os`` (``"2008 R2"`` → ``"2008R2"``, ``"2012-R2"`` →
    ``"2012R2"``, ``"2003R2"`` → ``"2003"``), or ``None`` when no platform has that name."""
    key = str(os).replace(" ", "").upper()
    key = _ALIASES.get(key, key)
    return key if key in PLATFORMS else None


def os_for_kernel(version: str) -> str | None:
    """The plan's OS name of a node reporting kernel ``version`` (``6.1.7601`` → ``"2008R2"``), or
    ``None`` when no platform runs that kernel. Asks each platform (:meth:`Platform.matches_kernel`)."""
    for os, cls in PLATFORMS.items():
        if cls().matches_kernel(version):
            return os
    return None


def product_for_kernel(version: str) -> str | None:
    """The product name of a node reporting kernel ``version`` (``6.3.9600`` → ``"Windows Server
    2012 R2"``), or ``None`` when no platform runs that kernel."""
    for cls in PLATFORMS.values():
        name = cls().product_name(version)
        if name is not None:
            return name
    return None


def get_platform(os: str) -> Platform:
    """The platform of Windows Server ``os`` (a key of :data:`PLATFORMS`: ``2003`` … ``2022``).

    ``2008 R2``/``2012 R2`` spellings are accepted; anything else raises
    :class:`~clpbackup.errors.UnsupportedError` (rule OS-1).
    """
    key = canonical_os(os)
    if key is None:
        names = [cls.display_name.removeprefix("Windows Server ") for cls in PLATFORMS.values()]
        raise UnsupportedError(
            f"OS-1: Windows Server {os!r} is not supported",
            hint=f"clpbackup supports Windows Server {', '.join(names[:-1])} and {names[-1]}",
        )
    return PLATFORMS[key]()
