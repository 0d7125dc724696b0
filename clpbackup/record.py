"""clpbackup's record on a node: exactly what it created there (OWN-1). Pure.

The record (``<scripts_dir>\\clpbackup-record.jsonl``, docs/design.md "The record on the node") is
written by the same ``apply`` that makes the changes, under the node lock (LOCK-1), after the
commands ran: it lists the files clpbackup wrote (path and SHA-256), the schtasks tasks it created
(name and what they run), the AT jobs it created (the id at.exe printed, with the exact command
line, time and days), the block it put in the CLUSTERPRO start script, the canary files its
jobs' runs write for the restore drill (DRILL-1), and a running drill's script and one-shot task
(the drill writes them into the record before the task exists and takes them out when it deletes
them, so uninstall removes what an interrupted drill left). Deploy deletes or
replaces only what the record **and** the node agree on; anything else, however similar, is
foreign: reported, never touched.

The format is one JSON object per line (ASCII: every non-ASCII character is escaped), so the
``apply`` operation can drop the line of a command that failed and put the id at.exe printed into
the line of the AT job it created without understanding JSON (:data:`AT_ID_TOKEN`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from clpbackup.errors import ParseError

__all__ = [
    "AT_ID_TOKEN",
    "FORMAT",
    "LOCK_NAME",
    "RECORD_NAME",
    "Record",
    "RecordLine",
    "RecordedAt",
    "RecordedCanary",
    "RecordedFile",
    "RecordedTask",
    "at_line",
    "block_line",
    "canary_line",
    "file_line",
    "header_line",
    "parse_record",
    "record_bytes",
    "record_lines",
    "task_line",
    "without",
]

RECORD_NAME = "clpbackup-record.jsonl"
"""The record's file name in ``scripts_dir``."""
LOCK_NAME = "clpbackup.lock"
"""The node lock's file name in ``scripts_dir`` (LOCK-1)."""
FORMAT = 1
AT_ID_TOKEN = '"@AT_ID@"'  # noqa: S105 - a placeholder, not a secret
"""In an AT line of a record being written: replaced on the node by the id at.exe printed."""


@dataclass(frozen=True)
class RecordedFile:
    """A file clpbackup wrote: its path and the SHA-256 of the bytes it wrote."""

    path: str
    sha256: str


@dataclass(frozen=True)
class RecordedTask:
    """A schtasks task clpbackup created: its name, what it runs and when (``HH:MM``)."""

    name: str
    run: str
    at: str
    kind: str = "daily"


@dataclass(frozen=True)
class RecordedAt:
    """An AT job clpbackup created: the id at.exe gave it, its exact command line, time and days."""

    id: int
    run: str
    at: str
    days: tuple[str, ...] = ()

    @property
    def recurring(self) -> bool:
        """True for a job with ``/every:`` days."""
        return bool(self.days)


@dataclass(frozen=True)
class RecordedBlock:
    """The block clpbackup put into the CLUSTERPRO start script (FO-1)."""

    path: str
    sha256: str


@dataclass(frozen=True)
class RecordedCanary:
    """A canary file the job's own runs write (DRILL-1): its content changes with every run, so it
    is known by its path and by its first word (``clpbackup-canary``), not by a hash."""

    path: str


@dataclass
class Record:
    """What one node's record lists. ``present`` is False when the node has no record."""

    present: bool = False
    cluster: str | None = None
    files: list[RecordedFile] = field(default_factory=list)
    tasks: list[RecordedTask] = field(default_factory=list)
    at_jobs: list[RecordedAt] = field(default_factory=list)
    blocks: list[RecordedBlock] = field(default_factory=list)
    canaries: list[RecordedCanary] = field(default_factory=list)

    def file(self, path: str) -> RecordedFile | None:
        """The recorded file at ``path`` (case-insensitive, as Windows paths are)."""
        for f in self.files:
            if f.path.lower() == path.lower():
                return f
        return None

    def task(self, name: str) -> RecordedTask | None:
        """The recorded task called ``name`` (case-insensitive, as Task Scheduler names are)."""
        for t in self.tasks:
            if t.name.lower() == name.lower():
                return t
        return None

    @property
    def empty(self) -> bool:
        """True when the record lists nothing."""
        return not (self.files or self.tasks or self.at_jobs or self.blocks or self.canaries)


def parse_record(data: bytes | None, path: str = RECORD_NAME) -> Record:
    """Read a record; ``None`` (no file) is an absent record. A damaged record raises
    :class:`~clpbackup.errors.ParseError`: guessing what clpbackup owns would defeat the record."""
    if data is None:
        return Record()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ParseError(path, repr(data[:200]), "the record is not UTF-8 text") from None
    rec = Record(present=True)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ParseError(path, line[:200], f"line {number} is not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise ParseError(path, line[:200], f"line {number} is not a JSON object")
        try:
            _add(rec, obj)
        except (KeyError, TypeError, ValueError) as exc:
            raise ParseError(path, line[:200], f"line {number} is not a record entry ({exc})") from None
    return rec


def _add(rec: Record, obj: dict[str, Any]) -> None:
    kind = obj["kind"]
    if kind == "record":
        if int(obj["format"]) != FORMAT:
            raise ValueError(f"format {obj['format']} is not {FORMAT}; a newer clpbackup wrote it")
        rec.cluster = str(obj.get("cluster") or "") or None
    elif kind == "file":
        rec.files.append(RecordedFile(str(obj["path"]), str(obj["sha256"]).lower()))
    elif kind == "task":
        rec.tasks.append(
            RecordedTask(str(obj["name"]), str(obj["run"]), str(obj["at"]), str(obj.get("type", "daily")))
        )
    elif kind == "at":
        job_id = obj["id"]
        if isinstance(job_id, bool) or not isinstance(job_id, int):
            raise ValueError("the AT id is not a number")
        rec.at_jobs.append(
            RecordedAt(job_id, str(obj["run"]), str(obj["at"]), tuple(str(d) for d in obj.get("days", ())))
        )
    elif kind == "canary":
        rec.canaries.append(RecordedCanary(str(obj["path"])))
    elif kind == "start-script":
        rec.blocks.append(RecordedBlock(str(obj["path"]), str(obj["sha256"]).lower()))
    else:
        raise ValueError(f"unknown kind {kind!r}")


@dataclass(frozen=True)
class RecordLine:
    """One line of the record to write, and when ``apply`` keeps it (``when``): ``""`` always;
    ``ran:i`` only when apply command ``i`` ran with exit code 0 (an entry it creates; in an AT line
    :data:`AT_ID_TOKEN` becomes the id it printed, and the line is dropped when it printed none);
    ``notran:i`` unless command ``i`` ran with exit code 0 (an entry it deletes: a failed delete
    leaves it recorded); ``wrote:i`` only when write ``i`` succeeded; ``notwrote:i`` unless it did;
    ``notdeleted:i`` only when deleting file ``i`` of the apply's deletes failed (the file is still
    there and still clpbackup's: the next run retries; without it the file would become foreign)."""

    text: str
    when: str = ""


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=True, sort_keys=False, separators=(", ", ": "))


def header_line(cluster: str) -> RecordLine:
    """The first line: format and cluster."""
    return RecordLine(_line({"kind": "record", "format": FORMAT, "cluster": cluster}))


def file_line(path: str, sha256: str, when: str = "") -> RecordLine:
    """A file clpbackup wrote."""
    return RecordLine(_line({"kind": "file", "path": path, "sha256": sha256}), when)


def task_line(name: str, run: str, at: str, kind: str = "daily", when: str = "") -> RecordLine:
    """A schtasks task clpbackup created."""
    return RecordLine(_line({"kind": "task", "name": name, "run": run, "at": at, "type": kind}), when)


def at_line(job_id: int | None, run: str, at: str, days: Sequence[str], when: str = "") -> RecordLine:
    """An AT job; ``job_id`` ``None`` for one this apply creates (the node fills the id in)."""
    text = _line({"kind": "at", "id": 0, "run": run, "at": at, "days": list(days)})
    if job_id is None:
        text = text.replace('"id": 0', '"id": ' + AT_ID_TOKEN, 1)
    else:
        text = text.replace('"id": 0', f'"id": {int(job_id)}', 1)
    return RecordLine(text, when)


def block_line(path: str, sha256: str, when: str = "") -> RecordLine:
    """The block in the CLUSTERPRO start script."""
    return RecordLine(_line({"kind": "start-script", "path": path, "sha256": sha256}), when)


def canary_line(path: str, when: str = "") -> RecordLine:
    """A canary file the job's runs write (DRILL-1); uninstall deletes it when it still starts with
    clpbackup's mark."""
    return RecordLine(_line({"kind": "canary", "path": path}), when)


def record_lines(data: bytes | None, cluster: str) -> list[str]:
    """The lines of a record as it is on the node (a new record's header line when it has none),
    to write it again with entries added or taken out (:func:`without`, :func:`record_bytes`)."""
    if data is None:
        return [header_line(cluster).text]
    parse_record(data)  # a damaged record is never written over
    return [line for line in data.decode("utf-8-sig").splitlines() if line.strip()]


def without(lines: Sequence[str], *, files: Sequence[str] = (), tasks: Sequence[str] = ()) -> list[str]:
    """``lines`` less the file entries at ``files`` and the task entries called ``tasks``
    (case-insensitive, as Windows paths and task names are)."""
    paths = {f.lower() for f in files}
    names = {t.lower() for t in tasks}
    kept = []
    for line in lines:
        obj = json.loads(line)
        if obj.get("kind") == "file" and str(obj.get("path", "")).lower() in paths:
            continue
        if obj.get("kind") == "task" and str(obj.get("name", "")).lower() in names:
            continue
        kept.append(line)
    return kept


def record_bytes(lines: Sequence[str]) -> bytes:
    """The record file holding ``lines``, as ``apply`` writes it (ASCII, CRLF after each line)."""
    return "".join(line + "\r\n" for line in lines).encode("ascii")
