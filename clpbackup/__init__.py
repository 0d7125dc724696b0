"""clpbackup: Windows standard backups on NEC CLUSTERPRO X two-node clusters.

One plan (YAML or Python) → rule checks → per-node batch files and schedules → deployed to both
nodes over PowerShell Remoting → status, failover / failback backups, run-now, restore source.

The public names are imported lazily, so ``import clpbackup`` stays cheap (the Ansible module and
the CLI start often).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Plan": "clpbackup.plan",
    "Finding": "clpbackup.rules",
    "NodeArtifacts": "clpbackup.artifacts",
    "Command": "clpbackup.commands",
    "ClusterBackup": "clpbackup.operations",
    "ClusterResult": "clpbackup.operations",
    "ClpBackupError": "clpbackup.errors",
    "PlanError": "clpbackup.errors",
    "ConnectionFailed": "clpbackup.errors",
    "AuthenticationFailed": "clpbackup.errors",
    "RemoteCommandFailed": "clpbackup.errors",
    "NodeTimeout": "clpbackup.errors",
    "ParseError": "clpbackup.errors",
    "PreflightFailed": "clpbackup.errors",
    "OwnerUnknown": "clpbackup.errors",
}

__all__ = [*_LAZY, "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    # "import X as X": an explicit re-export, so `from clpbackup import Plan` type-checks in users'
    # code under mypy --strict.
    from clpbackup.artifacts import NodeArtifacts as NodeArtifacts
    from clpbackup.commands import Command as Command
    from clpbackup.errors import AuthenticationFailed as AuthenticationFailed
    from clpbackup.errors import ClpBackupError as ClpBackupError
    from clpbackup.errors import ConnectionFailed as ConnectionFailed
    from clpbackup.errors import NodeTimeout as NodeTimeout
    from clpbackup.errors import OwnerUnknown as OwnerUnknown
    from clpbackup.errors import ParseError as ParseError
    from clpbackup.errors import PlanError as PlanError
    from clpbackup.errors import PreflightFailed as PreflightFailed
    from clpbackup.errors import RemoteCommandFailed as RemoteCommandFailed
    from clpbackup.operations import ClusterBackup as ClusterBackup
    from clpbackup.operations import ClusterResult as ClusterResult
    from clpbackup.plan import Plan as Plan
    from clpbackup.rules import Finding as Finding


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'clpbackup' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
