"""Windows Server 2016, 2019 and 2022: the 2012 family without AT.

wbadmin, schtasks and the Windows Server Backup feature are those of 2012. at.exe is still shipped
but refuses new jobs ("The request is not supported." unless the ``EnableAt`` registry value is set,
which clpbackup does not touch), so the scheduler is schtasks and a plan that asks for AT is refused
(OS-1). All three report kernel 10.0 and differ by build (docs/windows-facts.md, "Newer Windows").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from clpbackup.platforms.win2012 import Win2012


class Win2016(Win2012):
    """Windows Server 2016 (build 14393)."""

    os: ClassVar[str] = "2016"
    display_name: ClassVar[str] = "Windows Server 2016"
    at_deprecated: ClassVar[bool] = False
    at_available: ClassVar[bool] = False
    kernel_versions: ClassVar[Mapping[str, str]] = {"10.0.14393": "Windows Server 2016"}


class Win2019(Win2016):
    """Windows Server 2019 (build 17763)."""

    os: ClassVar[str] = "2019"
    display_name: ClassVar[str] = "Windows Server 2019"
    kernel_versions: ClassVar[Mapping[str, str]] = {"10.0.17763": "Windows Server 2019"}


class Win2022(Win2016):
    """Windows Server 2022 (build 20348)."""

    os: ClassVar[str] = "2022"
    display_name: ClassVar[str] = "Windows Server 2022"
    kernel_versions: ClassVar[Mapping[str, str]] = {"10.0.20348": "Windows Server 2022"}
