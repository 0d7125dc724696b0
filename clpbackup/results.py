"""Results of cluster operations: one value per node, which is that node's result or its error.

Like fabric's GroupResult: ``result["node-a"]`` is a :class:`NodeOutcome` subclass or the
:class:`~clpbackup.errors.ClpBackupError` that node raised — one node failing never hides the other's
outcome. Every problem is one line that names its rule ID. Pure data; HTML/Markdown views for
notebooks come from :mod:`clpbackup.display`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar

from clpbackup.errors import ClpBackupError, describe

Action = Literal["create", "update", "delete", "unchanged", "adopt", "conflict", "held"]


@dataclass(frozen=True)
class Problem:
    """Something that needs attention: the rule it concerns and a one-line message."""

    rule: str
    message: str
    node: str | None = None

    def __str__(self) -> str:
        where = f"[{self.node}] " if self.node else ""
        return f"{where}{self.rule}: {self.message}"


@dataclass(frozen=True)
class Change:
    """One item of a deploy diff: a file, a schedule, the start-script block or clpbackup's record
    on the node (OWN-1). ``adopt``: an entry exactly as the plan renders it, taken into the record;
    ``conflict``: a foreign entry where the plan needs one (deploy refuses the node), or a file of
    clpbackup's the operator changed since, left in place and reported (OWN-1); ``held``: a change
    left for the next deploy because a task runs that batch file (or is that task) now (LIVE-1:
    ``after`` says which and what to do)."""

    kind: Literal["file", "schedule", "start-script", "record"]
    name: str
    action: Action
    before: str | None = None
    after: str | None = None

    def __str__(self) -> str:
        return f"{self.action:9} {self.kind:12} {self.name}"


class Outcome:
    """Base of every result: its problems decide :attr:`ok`; :meth:`to_json` is the dataclass as a
    dict with ``ok`` and ``kind`` (the result type) added."""

    __dataclass_fields__: ClassVar[dict[str, Any]]  # every subclass is a dataclass
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        """True when nothing needs attention."""
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        data = asdict(self)
        data["ok"] = self.ok
        data["kind"] = type(self).__name__
        return data


@dataclass
class NodeOutcome(Outcome):
    """Base of every per-node result.

    ``changed`` follows Ansible's convention: in check mode it says what *would* change (nothing
    was written); otherwise what did.
    """

    node: str
    changed: bool = False
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for text output."""
        state = "ok" if self.ok else "needs attention"
        verb = "would change" if getattr(self, "check", False) else "changed"
        return f"{self.node}: {state}" + (f", {verb}" if self.changed else "")


@dataclass
class DeployResult(NodeOutcome):
    """What deploy changed (or, in check mode, would change) on one node."""

    check: bool = False
    changes: list[Change] = field(default_factory=list)

    @property
    def diff(self) -> list[Change]:
        """The changes that are not ``unchanged``."""
        return [c for c in self.changes if c.action != "unchanged"]

    def summary(self) -> str:
        n = len(self.diff)
        verb = "would change" if self.check else "changed"
        body = f"{verb} {n} item(s)" if n else "no change"
        return f"{self.node}: {body}" + ("" if self.ok else f"; {len(self.problems)} problem(s)")


@dataclass
class ScheduleStatus:
    """One schedule entry on a node: an expected one (matching / different / missing), clpbackup's
    own one-shot (``one-shot``), an entry of clpbackup's the plan no longer has (``stale``), or an
    entry that looks like clpbackup's but is not in its record (``foreign``: never touched, OWN-1)."""

    name: str
    job: str | None
    kind: str
    state: Literal["matching", "different", "missing", "one-shot", "stale", "foreign"]
    scheduler: str
    at: str | None = None
    last_run: str | None = None
    last_result: int | None = None
    next_run: str | None = None
    verdict: str = ""


@dataclass
class NodeEvent:
    """A failure a node's batch files raised (ALERT-1), read back from its Application event log.

    ``time`` is the node's local time (``YYYY-MM-DD HH:MM:SS``); ``kind`` the failure kind of the
    event ID (docs/operations.md "Alerts"), ``None`` for an ID clpbackup does not write."""

    time: str
    event_id: int
    kind: str | None
    entry_type: str
    message: str


@dataclass
class StatusResult(NodeOutcome):
    """Where one node stands.

    ``owner_checked`` is False when the owner was not decided because the other node was not asked
    (``status(node=...)``): ``owner`` is then ``None`` for that reason, not for a lack of evidence.
    """

    os: str | None = None
    schedule_service: str | None = None
    owner: bool | None = None
    schedules: list[ScheduleStatus] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)
    owner_checked: bool = True
    #: the newest failures the node's batch files raised (ALERT-1), newest first; ``None`` when
    #: the event log could not be read (a problem says why)
    events: list[NodeEvent] | None = field(default_factory=list)
    #: per job, the last restore drill on this node (DRILL-1), e.g. ``pass at 2024-01-15 04:00
    #: (version 01/15/2024-03:00 by node-a)``; jobs never drilled here are absent
    drills: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        role = {True: "owns the switchover partition", False: "standby", None: "owner unknown"}[self.owner]
        if self.owner is None and not self.owner_checked:
            role = "owner not checked (the other node was not asked)"
        state = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        return f"{self.node}: {state}; {role}"


@dataclass
class ScheduleResult(NodeOutcome):
    """A one-shot backup scheduled (failover FO-2, failback FB-1) or refused.

    ``check`` is True in check mode (``action`` then starts with ``would be``). ``replaced`` names
    the pending one-shot this call replaced (``--replace``), or in check mode would replace.
    """

    job: str | None = None
    at: str | None = None
    action: str = ""
    check: bool = False
    replaced: str | None = None


@dataclass
class RunResult(NodeOutcome):
    """The outcome of a backup run on one node."""

    job: str = ""
    outcome: Literal["success", "failed", "expected-failure", "running", "timeout", "not-run"] = "not-run"
    version: str | None = None
    log_path: str | None = None
    last_result: int | None = None
    detail: str = ""
    #: while ``running``: the tool's own progress in percent (wbadmin ``copied (45%)``), if it told
    progress: int | None = None

    def summary(self) -> str:
        v = f", version {self.version}" if self.version else ""
        return f"{self.node}: {self.job} {self.outcome}{v}"


DrillVerdict = Literal["pass", "fail", "limited", "refused", "would-run"]


@dataclass
class JobDrill:
    """The restore drill of one job on one node (DRILL-1).

    ``verdict``: ``pass`` (the canary came back from the version and its token is one the job's run
    recorded), ``fail`` (no canary, a wrong token, a missing version; ``message`` says why, in
    wbadmin's own words where it spoke), ``limited`` (NTBackup: its own log checked, no file-level
    restore without its GUI — never a pass), ``refused`` (not run: RS-1 standby, owner unknown, a job
    with no place for a canary) or ``would-run`` (check mode: ``commands`` are what would run).
    ``version`` is the wbadmin version identifier (for NTBackup the start of the newest good set,
    node-local); ``machine`` the node whose backup it is; ``recovery_point`` the version's time
    (UTC, ISO 8601) and ``age_minutes`` how old it was when the drill ran (by the node's clock);
    ``seconds`` the time the recovery took as clpbackup saw it (to its polling interval);
    ``written`` the date and time the recovered canary holds, as the node printed them.
    """

    job: str
    verdict: DrillVerdict
    version: str | None = None
    machine: str | None = None
    recovery_point: str | None = None
    age_minutes: int | None = None
    seconds: float | None = None
    message: str = ""
    token: str | None = None
    written: str | None = None
    commands: list[str] = field(default_factory=list)
    #: when the drill ran: the drill task's start by the node's clock (``YYYY-MM-DD HH:MM``), or
    #: this computer's time in UTC for a verdict that ran nothing on the node
    ran_at: str | None = None

    def line(self) -> str:
        """One line for text output: ``shared-daily: pass — version …, 35 min old, recovered in 2 s``."""
        parts = []
        if self.version:
            parts.append(f"version {self.version}" + (f" by {self.machine}" if self.machine else ""))
        if self.age_minutes is not None:
            parts.append(f"{_minutes(self.age_minutes)} old")
        if self.seconds is not None:
            parts.append(f"recovered in {self.seconds:.0f} s")
        head = f"{self.job}: {self.verdict}" + (f" ({', '.join(parts)})" if parts else "")
        return head + (f" — {self.message}" if self.message else "")


def _minutes(n: int) -> str:
    if n < 60:
        return f"{n} min"
    if n < 48 * 60:
        return f"{n // 60} h {n % 60} min"
    return f"{n // (24 * 60)} days"


@dataclass
class DrillResult(NodeOutcome):
    """The restore drills run (or, in check mode, that would run) on one node (DRILL-1)."""

    check: bool = False
    drills: list[JobDrill] = field(default_factory=list)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for d in self.drills:
            counts[d.verdict] = counts.get(d.verdict, 0) + 1
        words = {"pass": "passed", "fail": "failed", "would-run": "would run"}
        body = ", ".join(f"{n} {words.get(v, v)}" for v, n in counts.items()) or "no drill"
        return f"{self.node}: {body}"


@dataclass
class RestoreSource(Outcome):
    """Where to restore switchover data from (RS-1), and how. clpbackup never runs the restore."""

    item: str
    node: str | None
    job: str | None
    version: str | None
    command: str | None
    steps: list[str] = field(default_factory=list)
    candidates: dict[str, str | None] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when a source was found."""
        return self.node is not None and super().ok

    def __repr__(self) -> str:
        if not self.ok:
            return f"RestoreSource({self.item}: no source — " + "; ".join(str(p) for p in self.problems) + ")"
        return f"RestoreSource({self.item}: node {self.node}, version {self.version}: {self.command})"

    def _repr_html_(self) -> str:
        from clpbackup.display import restore_html

        return restore_html(self)

    def _repr_markdown_(self) -> str:
        from clpbackup.display import restore_markdown

        return restore_markdown(self)


R = TypeVar("R", bound=NodeOutcome)


class ClusterResult(Mapping[str, "R | ClpBackupError"], Generic[R]):
    """Per-node results of one cluster operation.

    ``result[node]`` is that node's result or the typed error it raised. ``problems`` holds
    cluster-level findings (drift between the nodes, owner unknown).
    """

    def __init__(
        self,
        operation: str,
        values: Mapping[str, R | ClpBackupError],
        problems: list[Problem] | None = None,
        notes: list[str] | None = None,
        *,
        check: bool = False,
    ) -> None:
        self.operation = operation
        self._values = dict(values)
        self.problems: list[Problem] = list(problems or [])
        self.notes: list[str] = list(notes or [])
        self.check = check

    def __getitem__(self, node: str) -> R | ClpBackupError:
        return self._values[node]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def failed(self) -> dict[str, ClpBackupError]:
        """The nodes that raised, with their errors."""
        return {n: v for n, v in self._values.items() if isinstance(v, ClpBackupError)}

    @property
    def succeeded(self) -> dict[str, R]:
        """The nodes that returned a result."""
        return {n: v for n, v in self._values.items() if not isinstance(v, ClpBackupError)}

    @property
    def changed(self) -> bool:
        """True when any node changed; in check mode (:attr:`check`), when any node *would* change
        (Ansible's convention: nothing was written, ``changed`` is the forecast)."""
        return any(v.changed for v in self.succeeded.values())

    @property
    def ok(self) -> bool:
        """True when no node failed and nothing needs attention."""
        return not self.failed and not self.problems and all(v.ok for v in self.succeeded.values())

    def all_problems(self) -> list[Problem]:
        """Cluster-level problems, then each node's, then each node error as a problem line."""
        out = list(self.problems)
        for node, v in self._values.items():
            if isinstance(v, ClpBackupError):
                out.append(Problem(v.rule or "ERROR", v.detail, node))
            else:
                out.extend(v.problems)
        return out

    def raise_on_failure(self) -> ClusterResult[R]:
        """Raise the first node's error, if any node failed; return self otherwise."""
        for err in self.failed.values():
            raise err
        return self

    def __repr__(self) -> str:
        verb = ", would change" if self.check else ", changed"
        lines = [f"<{self.operation}: {'ok' if self.ok else 'NOT OK'}{verb if self.changed else ''}>"]
        for node, v in self._values.items():
            if isinstance(v, ClpBackupError):
                lines.append(f"  {node}: FAILED {type(v).__name__}: {v}")
            else:
                lines.append(f"  {v.summary()}")
        for p in self.all_problems():
            lines.append(f"  ! {p}")
        for n in self.notes:
            lines.append(f"  - {n}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict: operation, check, ok, changed (would change, in check mode), nodes,
        problems, notes."""
        nodes: dict[str, Any] = {}
        for node, v in self._values.items():
            nodes[node] = (
                {"ok": False, "error": describe(v)} if isinstance(v, ClpBackupError) else v.to_json()
            )
        return {
            "operation": self.operation,
            "check": self.check,
            "ok": self.ok,
            "changed": self.changed,
            "nodes": nodes,
            "problems": [str(p) for p in self.all_problems()],
            "notes": list(self.notes),
        }

    def _repr_html_(self) -> str:
        from clpbackup.display import cluster_result_html

        return cluster_result_html(self)

    def _repr_markdown_(self) -> str:
        from clpbackup.display import cluster_result_markdown

        return cluster_result_markdown(self)
