"""What rendering produces for one node: files (exact bytes) and scheduled entries.

Built by :mod:`clpbackup.render`, consumed by the CLI (``clpbackup render``) and the cluster
operations (deploy compares these with what the node has). Pure data.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

FileRole = Literal[
    "start-fragment", "failover-script", "backup-script", "selection", "drill-script", "weekly-drill-script"
]
ScheduleKind = Literal["daily", "once", "weekly"]
Scheduler = Literal["at", "schtasks"]


@dataclass(frozen=True)
class ArtifactFile:
    """A file clpbackup writes on a node.

    ``path`` is the Windows path on the node; ``content`` the exact bytes (CRLF line ends, in
    ``encoding``: ``cp932``/``cp437``… for batch files, ``utf-16-le`` — no byte-order mark — for
    NTBackup selections).
    """

    path: str
    role: FileRole
    job: str | None
    encoding: str
    content: bytes

    @property
    def sha256(self) -> str:
        """Lower-case hex SHA-256 of the content (what deploy compares with the node's file)."""
        return hashlib.sha256(self.content).hexdigest()

    def text(self) -> str:
        """The content decoded for display."""
        return self.content.decode(self.encoding)

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``clpbackup render --format json``."""
        return {
            "path": self.path,
            "role": self.role,
            "job": self.job,
            "encoding": self.encoding,
            "content_base64": base64.b64encode(self.content).decode("ascii"),
        }


@dataclass(frozen=True)
class ScheduleEntry:
    """A scheduled entry on a node: a schtasks task or an AT job.

    ``name`` is the task name (schtasks) or the label clpbackup uses for an AT job (AT jobs have
    no names on the node; they are matched by ``run``, ``at`` and ``days`` — IDEM-1); ``days`` are
    at.exe's ``/every:`` days of a daily AT job, or the schtasks ``/D`` day of a ``weekly`` task (the
    weekly restore drill, DRILL-2: ``("SUN",)``). ``argv`` and
    ``command_line`` create the entry; ``run`` is the command the entry runs, exactly as the
    scheduler stores it (schtasks ``Task To Run`` / the AT ``Command Line``).
    """

    name: str
    job: str
    kind: ScheduleKind
    at: str
    scheduler: Scheduler
    argv: tuple[str, ...]
    command_line: str
    run: str
    days: tuple[str, ...] = ()
    delete_argv: tuple[str, ...] = ()
    delete_command_line: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``clpbackup render --format json``."""
        return {
            "name": self.name,
            "job": self.job,
            "kind": self.kind,
            "at": self.at,
            "scheduler": self.scheduler,
            "argv": list(self.argv),
            "command_line": self.command_line,
            "run": self.run,
            "days": list(self.days),
        }


@dataclass(frozen=True)
class NodeArtifacts:
    """Everything clpbackup deploys to one node."""

    node: str
    os: str
    scheduler: Scheduler
    codepage: int
    files: tuple[ArtifactFile, ...] = ()
    schedules: tuple[ScheduleEntry, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def file(self, role: FileRole, job: str | None = None) -> ArtifactFile:
        """The file of that role (and job); ``KeyError`` when there is none."""
        for f in self.files:
            if f.role == role and (job is None or f.job == job):
                return f
        raise KeyError(f"{self.node}: no {role} file" + (f" for job {job}" if job else ""))

    def schedule(self, job: str, kind: ScheduleKind = "daily") -> ScheduleEntry:
        """The schedule entry of that job and kind; ``KeyError`` when there is none."""
        for s in self.schedules:
            if s.job == job and s.kind == kind:
                return s
        raise KeyError(f"{self.node}: no {kind} schedule for job {job}")

    def _repr_html_(self) -> str:
        from clpbackup.display import artifacts_html

        return artifacts_html(self)

    def _repr_markdown_(self) -> str:
        from clpbackup.display import artifacts_markdown

        return artifacts_markdown(self)

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``clpbackup render --format json`` (one node's value)."""
        return {
            "os": self.os,
            "scheduler": self.scheduler,
            "codepage": self.codepage,
            "files": [f.to_json() for f in self.files],
            "schedules": [s.to_json() for s in self.schedules],
        }
