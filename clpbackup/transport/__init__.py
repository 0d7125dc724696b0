"""The transport: how clpbackup talks to the nodes over WinRM.

:func:`open_session` gives a :class:`~clpbackup.transport.base.Session` for a node of a plan: a
:class:`~clpbackup.transport.psrp.PsrpSession` (PowerShell Remoting; the default) or, for nodes
that have WinRM but no PowerShell (Windows Server 2003 without WMF 2.0), a
:class:`~clpbackup.transport.winrs.WinrsSession` (``connection.transport: winrs``).

pypsrp is imported only when a session is opened, so ``import clpbackup`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.plan import Plan
    from clpbackup.transport.base import Session
    from clpbackup.transport.retry import RetryPolicy

__all__ = ["open_session"]


def open_session(plan: Plan, node_name: str, *, retry: RetryPolicy | None = None) -> Session:
    """A session with the node called ``node_name`` (nothing is sent until its first call).

    The connection settings are ``plan.connection_for(node)``; insecure settings are refused here
    with a :class:`~clpbackup.errors.PlanError` naming the node and the field. ``retry`` is the
    retry policy for reads (default: :class:`~clpbackup.transport.retry.RetryPolicy()`).
    """
    node = plan.node(node_name)
    conn = plan.connection_for(node)
    if conn.transport == "winrs":
        from clpbackup.transport.winrs import WinrsSession

        return WinrsSession(node.name, node.host, conn, retry=retry)
    from clpbackup.transport.psrp import PsrpSession

    return PsrpSession(node.name, node.host, conn, retry=retry)
