"""Windows Server 2012 and 2012 R2: Windows Server Backup; schtasks by default.

AT still works on 2012 and 2012 R2 but is deprecated (it prints a notice); NEC's guide uses schtasks
there and :mod:`clpbackup.rules` reports a plan that asks for AT (OS-1). 2012 R2 (kernel 6.3) differs
from 2012 (6.2) in nothing clpbackup builds; it has its own name so that a node is checked against
the kernel it reports (docs/windows-facts.md, "Newer Windows").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from clpbackup.platforms.base import FeatureHint, Scheduler
from clpbackup.platforms.win2008 import WbadminPlatform


class Win2012(WbadminPlatform):
    """Windows Server 2012."""

    os: ClassVar[str] = "2012"
    display_name: ClassVar[str] = "Windows Server 2012"
    default_scheduler: ClassVar[Scheduler] = "schtasks"
    at_deprecated: ClassVar[bool] = True
    kernel_versions: ClassVar[Mapping[str, str]] = {"6.2": "Windows Server 2012"}

    def feature_install_hint(self) -> FeatureHint:
        """``Install-WindowsFeature Windows-Server-Backup`` (OS-3)."""
        return FeatureHint(
            "Install-WindowsFeature Windows-Server-Backup", "powershell", "Windows-Server-Backup"
        )


class Win2012R2(Win2012):
    """Windows Server 2012 R2."""

    os: ClassVar[str] = "2012R2"
    display_name: ClassVar[str] = "Windows Server 2012 R2"
    kernel_versions: ClassVar[Mapping[str, str]] = {"6.3": "Windows Server 2012 R2"}
