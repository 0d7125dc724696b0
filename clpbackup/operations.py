"""Cluster operations on both nodes: deploy, status, failover/failback backups, run-now, restore source.

The only module that combines the pure layers (plan, rules, render, platforms, parsers) with I/O
(the transport). Every operation works on both nodes in parallel and returns a
:class:`~clpbackup.results.ClusterResult` whose value per node is that node's result or the typed
error it raised — one node failing never stops or hides the other (ARCHITECTURE decision 6).

Round trips (decision 3): per node, one read pipeline (``inspect``) gathers facts, file hashes and
scheduler listings; one write pipeline (``apply``) makes every change. A deploy is therefore
pool open + inspect + apply + close; a deploy with nothing to change skips the apply.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from clpbackup import nodestate, render
from clpbackup.artifacts import NodeArtifacts
from clpbackup.commands import Command
from clpbackup.errors import (
    AuthenticationFailed,
    Cancelled,
    ClpBackupError,
    ConnectionFailed,
    NodeBusy,
    NodeTimeout,
    OwnerUnknown,
    PlanError,
    PreflightFailed,
    RemoteCommandFailed,
)
from clpbackup.nodestate import RunMarker
from clpbackup.ownership import OwnerDecision, decide_owner
from clpbackup.plan import Node, Plan, parse_hhmm
from clpbackup.platforms import get_platform, run_batch
from clpbackup.record import (
    RecordLine,
    at_line,
    block_line,
    canary_line,
    file_line,
    header_line,
    record_bytes,
    record_lines,
    task_line,
    without,
)
from clpbackup.results import (
    Change,
    ClusterResult,
    DeployResult,
    DrillResult,
    JobDrill,
    NodeOutcome,
    Problem,
    RestoreSource,
    RunResult,
    ScheduleResult,
    StatusResult,
)
from clpbackup.startscript import StartScriptError, block_state, find_block, splice, split_lines
from clpbackup.startscript import remove as remove_block
from clpbackup.transport.types import (
    ApplyRequest,
    ApplyResult,
    CommandSpec,
    FileWrite,
    Guard,
    InspectResult,
    NodeFacts,
    NodeLock,
    RecordWrite,
)

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.transport.base import Session

log = logging.getLogger("clpbackup.operations")

R = TypeVar("R", bound=NodeOutcome)
T = TypeVar("T")
V = TypeVar("V")
E = TypeVar("E", bound=ClpBackupError)
SessionFactory = Callable[[Plan, str], "Session"]
Progress = Callable[[str, str], None]

_STALE_RETRIES = 3
#: OWN-1: why a recorded file is left (the operator changed it since clpbackup wrote it)
LEFT_CHANGED = "changed since clpbackup wrote it: left"
"""LOCK-1: how many times deploy reads and decides again when the node changed before its lock."""


class OperationInterrupted(KeyboardInterrupt):
    """Ctrl-C (``KeyboardInterrupt``) stopped a cluster operation; nothing new was started after it.

    The request each node had in flight was allowed to finish (a second Ctrl-C abandons it), and no
    further request followed. ``result`` holds, per node, the node's result when it had finished,
    or a :class:`~clpbackup.errors.Cancelled` saying what was written before the stop. It is a
    ``KeyboardInterrupt``, so code that stops on Ctrl-C still does.
    """

    def __init__(self, result: ClusterResult[NodeOutcome]) -> None:
        super().__init__(result.operation)
        self.result = result

    def lines(self) -> list[str]:
        """One line per node: what was written and what was not."""
        out = []
        for name, value in self.result.items():
            if isinstance(value, Cancelled):
                out.append(f"{name}: stopped — {value.message}")
            elif isinstance(value, ClpBackupError):
                out.append(f"{name}: failed — {value.message}")
            else:
                # the node's own summary ("node-a: changed 6 item(s)", "node-a: daily running")
                line = f"{value.summary()} (before the stop)"
                out.append("; ".join([line, *(p.message for p in value.problems)]))
        return out


class _Stop:
    """One operation's stop flag, and what each node was sent to write before it was set."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.written: dict[str, list[str]] = {}

    def note(self, name: str, what: str) -> None:
        self.written.setdefault(name, []).append(what)

    def text(self, name: str) -> str:
        done = self.written.get(name)
        if not done:
            return "interrupted: nothing written on this node, nothing more started"
        return (
            f"interrupted after {'; '.join(done)} on this node; nothing more was started "
            "(run the operation again: it reads the node and does what is missing)"
        )


_WORKER = threading.local()


def _operation(fn: Callable[..., T]) -> Callable[..., T]:
    """A public operation: a fresh stop flag, so an earlier interrupted call does not stop this one."""

    @functools.wraps(fn)
    def wrapper(self: ClusterBackup, *args: object, **kwargs: object) -> T:
        self._stop = _Stop()
        return fn(self, *args, **kwargs)

    return wrapper


#: Who may write in the scripts folder without a finding (ACL-1): SYSTEM, Administrators, CREATOR
#: OWNER (only for what its creator — already one who may write — creates), TrustedInstaller.
_TRUSTED_WRITERS = frozenset(
    {
        "S-1-5-18",
        "S-1-5-32-544",
        "S-1-3-0",
        "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464",
    }
)
_SID_NAMES = {
    "S-1-1-0": "Everyone",
    "S-1-5-11": "Authenticated Users",
    "S-1-5-32-545": "BUILTIN\\Users",
    "S-1-5-32-547": "BUILTIN\\Power Users",
    "S-1-5-4": "INTERACTIVE",
}

@dataclass
class _NodeRead:
    """One node's inspect answer with the parsed state clpbackup needs."""

    node: Node
    result: InspectResult
    state: nodestate.NodeState

    @property
    def facts(self) -> NodeFacts:
        assert self.result.facts is not None
        return self.result.facts


class BackupHandle:
    """A backup started with ``wait=False``: poll it later (no pipeline stays open meanwhile)."""

    def __init__(
        self,
        cb: ClusterBackup,
        job: str,
        nodes: Sequence[str],
        before: Mapping[str, RunMarker],
        failed: Mapping[str, ClpBackupError] | None = None,
    ) -> None:
        self._cb = cb
        self.job = job
        self.nodes = list(nodes)
        self._before = dict(before)
        #: the nodes where starting the job failed, with their errors (not in ``nodes``)
        self.failed: dict[str, ClpBackupError] = dict(failed or {})

    def poll(self) -> ClusterResult[RunResult]:
        """One look at the run on each node (``outcome == "running"`` while it goes on)."""
        return self._cb._poll_runs(self.job, self.nodes, self._before)

    def wait(self, timeout: float = 6 * 3600, progress: Progress | None = None) -> ClusterResult[RunResult]:
        """Poll with backoff until every node has finished or ``timeout`` seconds have passed."""
        return self._cb._wait_runs(self.job, self.nodes, self._before, timeout, progress)

    def __repr__(self) -> str:
        return f"BackupHandle(job={self.job!r}, nodes={self.nodes!r})"


def _shown(cmd: Command) -> str:
    """A command line for a person: the base64 of an encoded PowerShell script is named, not shown."""
    line = cmd.command_line()
    if "-EncodedCommand" in cmd.argv[:-1]:
        encoded = cmd.argv[cmd.argv.index("-EncodedCommand") + 1]
        line = line.replace(encoded, "<clpbackup's schedule-once script, base64>")
    return line


class ClusterBackup:
    """Deploys and drives a plan's backups on both nodes.

    ``session_factory`` opens a :class:`~clpbackup.transport.base.Session` for a node (default:
    :func:`clpbackup.transport.open_session`). Sessions are opened lazily and reused until
    :meth:`close`. ``install_features`` lets deploy install Windows Server Backup (OS-3);
    ``fix_schedule_service`` lets it set the Schedule service to automatic and start it (SCH-4).
    ``lock_wait`` is how many seconds a deploy waits for another one's node lock (LOCK-1) before it
    fails naming the holder. ``adopt`` lets deploy take over files at the planned paths and tasks with
    the planned names that its record does not list (a node deployed by a clpbackup without a record;
    OWN-1) — never AT jobs, which are adopted only when they are exactly what the plan renders.
    """

    def __init__(
        self,
        plan: Plan,
        *,
        session_factory: SessionFactory | None = None,
        max_workers: int = 2,
        install_features: bool = False,
        fix_schedule_service: bool = False,
        progress: Progress | None = None,
        poll_initial: float = 2.0,
        poll_max: float = 60.0,
        lock_wait: float = 60.0,
        adopt: bool = False,
    ) -> None:
        plan.check()  # PlanError with the findings: an invalid plan never reaches a node
        self.plan = plan
        self._factory = session_factory
        self.max_workers = max(1, max_workers)
        self.install_features = install_features
        self.fix_schedule_service = fix_schedule_service
        self.progress = progress
        self.poll_initial = poll_initial
        self.poll_max = poll_max
        self.lock_wait = max(0, int(lock_wait))
        self.adopt = adopt
        self._lock_owner = _lock_owner()
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._stop = _Stop()
        self.artifacts: dict[str, NodeArtifacts] = plan.render()

    # -- sessions ---------------------------------------------------------------------------------

    def _session(self, node: str) -> Session:
        with self._lock:
            s = self._sessions.get(node)
            if s is None:
                if self._factory is None:
                    from clpbackup.transport import open_session

                    s = open_session(self.plan, node)
                else:
                    s = self._factory(self.plan, node)
                self._sessions[node] = s
            return s

    def _drop_session(self, node: str) -> None:
        with self._lock:
            s = self._sessions.pop(node, None)
        if s is not None:
            try:
                s.close()
            except ClpBackupError:
                pass

    def close(self) -> None:
        """Close every session (the runspace pools on the nodes)."""
        for node in list(self._sessions):
            self._drop_session(node)

    def __enter__(self) -> ClusterBackup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- parallel helper --------------------------------------------------------------------------

    def _each(self, nodes: Iterable[str], fn: Callable[[str], T]) -> dict[str, T | ClpBackupError]:
        names = list(nodes)
        out: dict[str, T | ClpBackupError] = {}
        stop = self._stop

        def run(name: str) -> T | ClpBackupError:
            _WORKER.stop = stop
            try:
                self._checkpoint(name)
                if self.progress:
                    self.progress(name, "start")
                value: T | ClpBackupError = fn(name)
            except ClpBackupError as exc:
                if isinstance(exc, (ConnectionFailed, NodeTimeout)):
                    # A broken pool is not reused; the next call opens a fresh one.
                    self._drop_session(name)
                value = exc.with_node(name)
            if self.progress:
                self.progress(name, "done")
            return value

        # Even one node runs in a worker: the main thread only waits, so Ctrl-C lands there and not
        # in the middle of a request, and the worker can finish the request it has in flight.
        pool = ThreadPoolExecutor(max_workers=min(self.max_workers, len(names)) or 1)
        futures = {name: pool.submit(run, name) for name in names}
        try:
            for name in names:
                out[name] = futures[name].result()
        except KeyboardInterrupt:
            stop.event.set()
            raise OperationInterrupted(self._settle(stop, futures)) from None
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return out

    def _each_value(
        self, results: Mapping[str, V | ClpBackupError], fn: Callable[[V], T]
    ) -> dict[str, T | ClpBackupError]:
        """:meth:`_each` over the nodes that have a value (``fn`` gets it); a node's error passes
        through, in its place."""
        values = _values(results)
        done = self._each(values, lambda n: fn(values[n]))
        return _then(results, lambda n, _value: done[n])

    def _settle(
        self, stop: _Stop, futures: Mapping[str, Future[T | ClpBackupError]]
    ) -> ClusterResult[NodeOutcome]:
        """After Ctrl-C: let each node's request in flight finish (a second Ctrl-C abandons them),
        then say per node what was done."""
        try:
            wait_futures(list(futures.values()))
        except KeyboardInterrupt:
            pass  # abandon: the workers start nothing new (the stop flag is set)
        values: dict[str, NodeOutcome | ClpBackupError] = {}
        for name, future in futures.items():
            value = future.result() if future.done() and not future.cancelled() else None
            if isinstance(value, (NodeOutcome, ClpBackupError)) and not isinstance(value, Cancelled):
                values[name] = value
                continue
            text = stop.text(name)
            if not future.done():
                text += "; a request was still in flight when a second Ctrl-C abandoned it: look with status"
            values[name] = Cancelled(text, node=name, hint="run it again when you are ready: it converges")
        return ClusterResult("interrupted", values)

    def _checkpoint(self, name: str) -> None:
        """Start no new request after Ctrl-C (raises :class:`Cancelled` in the node's worker)."""
        stop: _Stop | None = getattr(_WORKER, "stop", None)
        if stop is not None and stop.event.is_set():
            raise Cancelled(stop.text(name), node=name)

    def _apply(self, name: str, request: ApplyRequest) -> ApplyResult:
        """Send one write pipeline to the node (never after Ctrl-C); record what it carried."""
        self._checkpoint(name)
        stop: _Stop | None = getattr(_WORKER, "stop", None)
        parts = []
        if request.writes:
            parts.append(f"{len(request.writes)} file(s)")
        if request.deletes:
            parts.append(f"{len(request.deletes)} deletion(s)")
        if request.commands:
            parts.append(f"{len(request.commands)} command(s)")
        if stop is not None:
            stop.note(name, "writing " + ", ".join(parts or ["nothing"]))
        return self._session(name).apply(request)

    def _node_names(self, node: str | None = None) -> list[str]:
        if node is not None:
            return [self.plan.node(node).name]
        return [n.name for n in self.plan.nodes]

    # -- reading ------------------------------------------------------------------------------------

    def _read(
        self,
        name: str,
        *,
        logs: bool = False,
        versions: bool = False,
        selections: bool = False,
        events: bool = False,
        drill: bool = False,
    ) -> _NodeRead:
        self._checkpoint(name)
        node = self.plan.node(name)
        art = self.artifacts[name]
        session = self._session(name)
        # The version reads take the delegated path only when the handshake really delegated.
        delegated = versions and nodestate.wants_delegation(self.plan, node) and session.delegation()
        request, probes = nodestate.build_inspect(
            self.plan,
            node,
            art,
            logs=logs,
            versions=versions,
            selections=selections,
            delegated=delegated,
            events=events,
            drill=drill,
        )
        result = session.inspect(request)
        if result.facts is None:
            raise ConnectionFailed("the node returned no facts", node=name)
        state = nodestate.read_state(self.plan, node, probes, result, delegated=delegated)
        if versions and not delegated and nodestate.wants_delegation(self.plan, node):
            state.notes.append(nodestate.NOT_DELEGATED_NOTE)
        return _NodeRead(node, result, state)

    def _preflight(self, read: _NodeRead, *, for_write: bool) -> list[Problem]:
        """Checks that block a node (raised) and problems that are only reported (returned)."""
        node, facts = read.node, read.facts
        name = node.name
        problems: list[Problem] = []
        expected = node.expected_computer_name
        if (facts.hostname or "").strip().upper() != expected:
            # Swapped hosts (or a DNS name pointing elsewhere) would give this node the other
            # node's schedule: never write to a node that is not the one the plan means.
            msg = (
                f"the host {node.host} is the computer {facts.hostname or '(no name)'}, not {expected}: "
                "it is not the node the plan means"
            )
            if for_write:
                raise PreflightFailed(
                    msg,
                    node=name,
                    rule="NODE-ID",
                    hint=f"correct nodes[].host of {name}, or set nodes[].computer_name when the "
                    "computer name differs from the CLUSTERPRO server name",
                )
            problems.append(Problem("NODE-ID", msg, name))
            return problems
        others = sorted(set(facts.scripts_dir_writers or ()) - _TRUSTED_WRITERS)
        if facts.scripts_dir_exists and others and not self.plan.allow_writable_scripts_dir:
            # SYSTEM runs the batch files in scripts_dir: anyone else who may write there could
            # plant a <job>.bat or logs\ that SYSTEM runs or writes (privilege escalation).
            who = ", ".join(f"{_SID_NAMES[s]} ({s})" if s in _SID_NAMES else s for s in others)
            msg = (
                f"{self.plan.scripts_dir} exists and others than SYSTEM and Administrators may write "
                f"in it: {who}"
            )
            hint = (
                "restrict the folder to SYSTEM and Administrators (no inheritance), or remove it and let "
                "deploy create it locked; set allow_writable_scripts_dir: true only if you accept the risk"
            )
            if for_write:
                raise PreflightFailed(msg, node=name, rule="ACL-1", hint=hint)
            problems.append(Problem("ACL-1", msg, name))
        platform = get_platform(node.os)
        if not platform.matches_kernel(facts.os_version):
            raise PreflightFailed(
                f"the plan says Windows Server {node.os} but the node reports version {facts.os_version} "
                f"({facts.os_caption or facts.os or 'unknown'})",
                node=name,
                rule="OS-1",
                hint="correct nodes[].os in the plan, or connect to the right host",
            )
        feature = platform.feature_install_hint()
        if feature is not None and facts.wsb_installed is False and not self.install_features:
            cmd = feature.command
            raise PreflightFailed(
                "Windows Server Backup is not installed",
                node=name,
                rule="OS-3",
                hint=f"install it on the node with: {cmd} (or deploy with install_features=True)",
            )
        codepage = self.plan.codepage_for(node)
        if facts.oem_codepage != codepage:
            raise PreflightFailed(
                f"the node's OEM code page is {facts.oem_codepage} but the plan's is {codepage}: "
                "batch files would be garbled",
                node=name,
                rule="CODEPAGE",
                hint=f"set connection.codepage: {facts.oem_codepage} in the plan",
            )
        uses_at = any(s.scheduler == "at" for s in self.artifacts[name].schedules)
        service_ok = (facts.schedule_start_mode or "").lower() in ("auto", "automatic") and (
            facts.schedule_state or ""
        ).lower() == "running"
        if uses_at and not service_ok and not self.fix_schedule_service:
            msg = (
                f"AT needs the Schedule service set to Automatic and running; it is "
                f"{facts.schedule_start_mode or 'unknown'} / {facts.schedule_state or 'unknown'}"
            )
            if for_write:
                raise PreflightFailed(
                    msg,
                    node=name,
                    rule="SCH-4",
                    hint="sc config Schedule start= auto && net start Schedule "
                    "(or deploy with fix_schedule_service=True)",
                )
            problems.append(Problem("SCH-4", msg, name))
        return problems

    # -- deploy -------------------------------------------------------------------------------------

    @_operation
    def deploy(
        self, check: bool = False, *, node: str | None = None, state: str = "present"
    ) -> ClusterResult[DeployResult]:
        """Deploy identical jobs to both nodes (JOB-1), idempotently (IDEM-1).

        ``check=True`` changes nothing on any node and returns the same diff (before/after per item);
        ``changed`` is then what *would* change (Ansible's convention), per node and for the result.
        ``state="absent"`` uninstalls instead: it removes exactly what clpbackup's record on each node
        lists and the node agrees on (OWN-1) — files, tasks, AT jobs, the block in the start script —
        under the node lock (LOCK-1), and leaves everything else.
        """
        if state not in ("present", "absent"):
            raise PlanError(f"state must be 'present' or 'absent', not {state!r}", field="state")
        if state == "absent":
            removed = self._each(self._node_names(node), lambda n: self._remove_node(n, check))
            operation = "deploy --state absent" + (" --check" if check else "")
            return ClusterResult(operation, removed, check=check)
        values = self._each(self._node_names(node), lambda n: self._deploy_node(n, check))
        result: ClusterResult[DeployResult] = ClusterResult(
            "deploy --check" if check else "deploy", values, check=check
        )
        if not self.plan.cluster.start_script:
            result.notes.append(
                "FO-1: the plan names no cluster.start_script; add the lines of "
                f"{self.plan.scripts_dir}\\start-fragment.bat to the CLUSTERPRO start script of group "
                f"{self.plan.cluster.failover_group} by hand"
            )
        elif any(
            c.kind == "start-script" and c.action != "unchanged"
            for v in result.succeeded.values()
            for c in v.changes
        ):
            # CLUSTERPRO writes its scripts to the nodes from the cluster configuration when that is
            # applied: a block added only on the nodes is lost at the next Apply.
            result.notes.append(
                f"FO-1: deploy edits the start script {self.plan.cluster.start_script} on the nodes only; "
                "put the same script into the cluster configuration (Builder / Cluster WebUI: the "
                "script resource's start.bat, Replace or Edit, then Apply the Configuration File), "
                "or the next Apply removes the block (docs/operations.md, 'The start script lives "
                "in the cluster configuration')"
            )
        return result

    def _unread_acl(self, read: _NodeRead) -> list[str]:
        """ACL-1 said out loud where it could not be checked: a transport that reads no ACL (WinRS)
        leaves ``scripts_dir_writers`` unknown, and an unknown is not a pass."""
        facts = read.facts
        if not facts.scripts_dir_exists or facts.scripts_dir_writers is not None:
            return []
        return [
            f"ACL-1: who may write in {self.plan.scripts_dir} was not read (this transport reads no "
            "ACL); SYSTEM runs what is in it: make sure only SYSTEM and Administrators may write "
            "there (docs/security.md)"
        ]

    def _deploy_node(self, name: str, check: bool) -> DeployResult:
        read = self._read(name, selections=True)
        problems = self._preflight(read, for_write=True)
        wrong = nodestate.selection_problems(self.plan, read.node, read.state, read.result)
        if wrong:
            raise PreflightFailed(
                "the NTBackup selection (.bks) does not match the node: " + "; ".join(wrong),
                node=name,
                rule="NT-2",
                hint="a .bks folder line ends with \\ (C:\\data\\), a line without it names a file; "
                "correct jobs.<job>.include/exclude in the plan",
            )
        prelude = self._prelude_commands(read)
        if prelude and not check:
            # Starting the Schedule service (SCH-4) or installing WSB (OS-3) changes what the
            # node can tell us (AT listings need the service): do it first, then read again.
            self._check_applied(name, self._apply(name, ApplyRequest(commands=prelude)))
            read = self._read(name)
            problems = self._preflight(read, for_write=True)
        elif prelude and read.state.at_jobs is None and "at" in read.state.errors:
            # check mode cannot start the Schedule service, so the AT listing is unreadable: every
            # AT entry would be created once deploy has started the service.
            read.state.at_jobs = []
            problems.append(Problem("SCH-4", "the Schedule service is stopped; deploy starts it first", name))
        changes, request, conflicts = self._diff(read)
        res = DeployResult(name, check=check, changes=changes, problems=problems)
        res.problems += self._held_problems(name, changes)
        res.problems += [
            Problem("OWN-1", f"{c.name}: {c.before}", name)
            for c in changes
            if c.action == "conflict" and c.before == LEFT_CHANGED
        ]
        res.notes += self._unread_acl(read)
        if conflicts:
            if check:
                res.problems += [Problem("OWN-1", c, name) for c in conflicts]
                return res
            raise PreflightFailed(
                "; ".join(conflicts) + "; nothing was changed on this node",
                node=name,
                rule="OWN-1",
                hint="clpbackup replaces only what its record lists: rename or delete that entry, or "
                "deploy with adopt=True (CLI --adopt) if it is an earlier clpbackup's",
            )
        if check:
            res.changed = any(c.action != "held" for c in res.diff)
            return res
        if request is None:
            return res
        first = list(res.problems)

        def decide(again: _NodeRead) -> ApplyRequest | None:
            # the node changed under the lock (a run started since the read, LIVE-1): the diff and
            # its held changes are those of the new read
            changes, request, conflicts = self._diff(again)
            if conflicts:
                raise PreflightFailed("; ".join(conflicts), node=name, rule="OWN-1")
            res.changes = changes
            res.problems = [p for p in first if p.rule != "LIVE-1"] + self._held_problems(name, changes)
            return request

        applied = self._apply_locked(name, request, decide=decide)
        self._check_applied(name, applied)
        res.changed = applied.changed
        return res

    def _remove_node(self, name: str, check: bool) -> DeployResult:
        read = self._read(name)
        problems = self._preflight(read, for_write=True)
        changes, request = self._removal(read)
        res = DeployResult(name, check=check, changes=changes, problems=problems)
        res.problems += [
            Problem("OWN-1", f"{c.name}: {c.before}", name) for c in changes if c.action == "conflict"
        ]
        res.problems += self._held_problems(name, changes)
        if check:
            # would change (Ansible)
            res.changed = any(c.action not in ("conflict", "held") for c in res.diff)
            return res
        if request is None:
            return res
        first = [p for p in res.problems if p.rule != "LIVE-1"]

        def decide(again: _NodeRead) -> ApplyRequest | None:
            changes, request = self._removal(again)
            res.changes = changes
            res.problems = first + self._held_problems(name, changes)
            return request

        applied = self._apply_locked(name, request, decide=decide)
        self._check_applied(name, applied)
        for path, why in applied.delete_errors.items():
            res.problems.append(Problem("OWN-1", f"{path} could not be deleted: {why}", name))
        res.changed = applied.changed
        return res

    def _removal(self, read: _NodeRead) -> tuple[list[Change], ApplyRequest | None]:
        """What uninstall removes from a node: exactly what the record lists and the node agrees on."""
        name = read.node.name
        state = read.state
        rec = state.record
        if "record" in state.errors:
            raise PreflightFailed(
                "clpbackup's record on the node cannot be read: " + state.errors["record"],
                node=name,
                rule="OWN-1",
                hint="nothing was removed; look at " + render.record_path(self.plan),
            )
        platform = get_platform(read.node.os)
        changes: list[Change] = []
        writes: list[FileWrite] = []
        deletes: list[str] = []
        commands: list[CommandSpec] = []
        lines: list[RecordLine] = [header_line(self.plan.cluster.name)]
        # LIVE-1: a batch file a task runs now is not deleted under its run, nor is that task
        runs = nodestate.batch_runs(state, [f.path for f in rec.files])
        live = nodestate.live_files(runs)
        touched: list[str] = []
        for f in rec.files:
            now = read.result.files.get(f.path)
            have = now.sha256 if now is not None else None
            if now is None or now.error is not None:
                lines.append(file_line(f.path, f.sha256))  # not hashed: still clpbackup's, untouched
                continue
            if have is None:
                continue
            if have != f.sha256:
                changes.append(Change("file", f.path, "conflict", before=LEFT_CHANGED))
                continue
            run = live.get(f.path.lower())
            if run is not None:
                held = run.problem_text(None, "not deleted")
                changes.append(Change("file", f.path, "held", before=f.sha256, after=held))
                lines.append(file_line(f.path, f.sha256))
                continue
            touched.append(f.path)
            changes.append(Change("file", f.path, "delete", before=f.sha256))
            lines.append(file_line(f.path, f.sha256, f"notdeleted:{len(deletes)}"))
            deletes.append(f.path)
        for canary in rec.canaries:
            now = read.result.files.get(canary.path)
            if now is None or now.sha256 is None:
                continue
            if not (now.content or b"").startswith(render.CANARY_MARK.encode("ascii")):
                why = "not a canary of clpbackup's: left"
                changes.append(Change("file", canary.path, "conflict", before=why))
                continue
            changes.append(Change("file", canary.path, "delete", before=now.sha256))
            lines.append(canary_line(canary.path, f"notdeleted:{len(deletes)}"))
            deletes.append(canary.path)
        for block in rec.blocks:
            current = read.result.files.get(block.path)
            if current is None or current.content is None:
                continue
            if _block_hash(current.content) != block.sha256:
                changes.append(
                    Change("start-script", block.path, "conflict", before="the block was changed: left")
                )
                continue
            after = remove_block(current.content)
            cp = f"cp{self.plan.codepage_for(read.node)}"
            changes.append(
                Change(
                    "start-script",
                    block.path,
                    "update",
                    before=current.content.decode(cp, "replace"),
                    after=after.decode(cp, "replace"),
                )
            )
            lines.append(block_line(block.path, block.sha256, f"notwrote:{len(writes)}"))
            writes.append(FileWrite(block.path, after))
        for t in rec.tasks:
            task = state.task(t.name)
            if task is None:
                continue
            if nodestate.is_running(task):
                held = nodestate.held_text(t.name)
                changes.append(Change("schedule", t.name, "held", before=t.run, after=held))
                lines.append(task_line(t.name, t.run, t.at, t.kind))
                continue
            changes.append(Change("schedule", t.name, "delete", before=t.run))
            lines.append(RecordLine(task_line(t.name, t.run, t.at, t.kind).text, f"notran:{len(commands)}"))
            commands.append(platform.schtasks_delete(t.name))
        for a in rec.at_jobs:
            job = next((j for j in state.at_jobs or [] if nodestate.recorded_at_agrees(a, j)), None)
            if job is None:
                continue
            at_task = state.task(f"At{a.id}")
            if at_task is not None and nodestate.is_running(at_task):
                held = nodestate.held_text(f"At{a.id}")
                changes.append(Change("schedule", f"AT #{a.id} {a.at} {a.run}", "held", after=held))
                lines.append(at_line(a.id, a.run, a.at, a.days))
                continue
            changes.append(Change("schedule", f"AT #{a.id} {a.at} {a.run}", "delete", before=job.schedule))
            lines.append(RecordLine(at_line(a.id, a.run, a.at, a.days).text, f"notran:{len(commands)}"))
            commands.append(platform.at_delete(a.id))
        if not writes and not deletes and not commands:
            return changes, None
        guards: list[Guard] = [Guard(path=render.record_path(self.plan), sha256=state.record_sha256)]
        if state.at_listing is not None:
            guards.append(Guard(command=platform.at_query(), stdout=state.at_listing))
        guards += self._live_guard(read, runs, touched, changes)
        record = RecordWrite(render.record_path(self.plan), [x.text for x in lines], [x.when for x in lines])
        return changes, ApplyRequest(
            writes=writes,
            deletes=deletes,
            commands=commands,
            stop_on_error=False,
            lock=self._node_lock(),
            guards=guards,
            record=record,
        )

    def _apply_locked(
        self,
        name: str,
        request: ApplyRequest,
        decide: Callable[[_NodeRead], ApplyRequest | None] | None = None,
    ) -> ApplyResult:
        """Apply a deploy's changes under the node lock (LOCK-1), re-deciding when the node changed.

        The apply checks its guards (the record's hash, the AT listing) under the lock; when another
        writer came first nothing is done and the node is read and diffed again — AT ids are never
        deleted on the strength of a read made before the lock. A lost answer (connection failed,
        deadline) is never retried blindly either: read again, diff again, apply what is missing
        (IDEM-1).
        """
        for _attempt in range(_STALE_RETRIES):
            try:
                applied = self._apply(name, request)
            except (ConnectionFailed, NodeTimeout):
                self._drop_session(name)
                applied = None
            self._refuse_if_busy(name, applied)
            if applied is not None and not applied.stale:
                return applied
            read = self._read(name)
            self._preflight(read, for_write=True)
            if decide is not None:
                again = decide(read)
            else:
                _, again, conflicts = self._diff(read)
                if conflicts:
                    raise PreflightFailed("; ".join(conflicts), node=name, rule="OWN-1")
            if again is None:
                return applied if applied is not None else ApplyResult()
            request = again
        raise NodeBusy(
            f"the node changed under every one of {_STALE_RETRIES} attempts to apply "
            f"({', '.join(applied.stale) if applied else 'no answer'}); nothing more was changed",
            node=name,
            hint="another tool is changing the scheduled jobs; run deploy again when it is done",
        )

    def _refuse_if_busy(self, name: str, applied: ApplyResult | None) -> None:
        """LOCK-1: the apply found another clpbackup's node lock and changed nothing."""
        if applied is not None and applied.lock_holder is not None:
            raise NodeBusy(
                f"another clpbackup holds the node lock ({_holder(applied.lock_holder)}); "
                f"waited {self.lock_wait} s and changed nothing",
                node=name,
                hint="wait for it to finish, then run again; a holder that crashed releases "
                "the lock when its process ends",
            )

    def _prelude_commands(self, read: _NodeRead) -> list[list[str]]:
        node, facts = read.node, read.facts
        cmds: list[list[str]] = []
        uses_at = any(s.scheduler == "at" for s in self.artifacts[node.name].schedules)
        if uses_at and self.fix_schedule_service:
            if (facts.schedule_start_mode or "").lower() not in ("auto", "automatic"):
                cmds.append(["sc", "config", "Schedule", "start=", "auto"])
            if (facts.schedule_state or "").lower() != "running":
                cmds.append(["net", "start", "Schedule"])
        install = get_platform(node.os).install_command()
        if install is not None and facts.wsb_installed is False and self.install_features:
            cmds.append(install)
        return cmds

    def _diff(self, read: _NodeRead) -> tuple[list[Change], ApplyRequest | None, list[str]]:
        """The deploy diff of a node, the apply that makes it so (``None``: nothing to do) and the
        foreign entries that stand in the way (OWN-1: the node is refused)."""
        name = read.node.name
        art = self.artifacts[name]
        state = read.state
        changes: list[Change] = []
        writes: list[FileWrite] = []
        lines: list[RecordLine] = [header_line(self.plan.cluster.name)]
        conflicts: list[str] = []
        start_script = self.plan.cluster.start_script
        planned = set()
        # LIVE-1: a batch file a task runs now is neither rewritten nor deleted under its run
        runs = nodestate.batch_runs(state, [f.path for f in art.files] + [r.path for r in state.record.files])
        live = nodestate.live_files(runs)
        touched: list[str] = []  # the batch files this apply writes or deletes
        for f in art.files:
            if f.role == "start-fragment" and start_script:
                continue
            planned.add(f.path.lower())
            current = read.result.files.get(f.path)
            have = current.sha256 if current else None
            if have == f.sha256:
                changes.append(Change("file", f.path, "unchanged"))
                lines.append(file_line(f.path, f.sha256))
                continue
            recorded = state.record.file(f.path)
            if have is not None and not self.adopt and (recorded is None or recorded.sha256 != have):
                why = (
                    "is not in clpbackup's record"
                    if recorded is None
                    else "was changed since clpbackup wrote it"
                )
                changes.append(Change("file", f.path, "conflict", before=have, after=f.sha256))
                conflicts.append(f"{f.path} exists, {why}, and differs from what the plan renders")
                continue
            run = live.get(f.path.lower())
            if run is not None:
                held = run.problem_text(f.job, "left as it is")
                changes.append(Change("file", f.path, "held", before=have, after=held))
                if recorded is not None:
                    lines.append(file_line(f.path, recorded.sha256))
                continue
            touched.append(f.path)
            changes.append(
                Change("file", f.path, "create" if have is None else "update", before=have, after=f.sha256)
            )
            lines.append(file_line(f.path, f.sha256, f"wrote:{len(writes)}"))
            writes.append(FileWrite(f.path, f.content))
        deletes: list[str] = []
        # DRILL-1: a drill that did not end left its script and task (recorded): the next drill or
        # uninstall removes them; deploy keeps them in the record, untouched (the task may still run)
        leftovers = nodestate.drill_leftovers(self.plan, state, read.result.files)
        drill_scripts = {render.drill_script_path(self.plan, j).lower() for j in self.plan.jobs}
        # OWN-1: a recorded file the plan no longer renders (a job taken out of the plan) is deleted
        # when it is still as clpbackup wrote it; one changed since is the operator's now: left,
        # reported and no longer recorded; one the node could not hash stays recorded, untouched
        for old in state.record.files:
            if old.path.lower() in planned or old.path.lower() in drill_scripts:
                continue
            now = read.result.files.get(old.path)
            if now is None or now.error is not None:
                lines.append(file_line(old.path, old.sha256))
            elif now.sha256 == old.sha256 and old.path.lower() in live:
                run = live[old.path.lower()]
                held = run.problem_text(None, "not deleted")
                changes.append(Change("file", old.path, "held", before=old.sha256, after=held))
                lines.append(file_line(old.path, old.sha256))
            elif now.sha256 == old.sha256:
                touched.append(old.path)
                changes.append(Change("file", old.path, "delete", before=old.sha256))
                # a failed delete keeps the line: still clpbackup's, the next deploy retries
                lines.append(file_line(old.path, old.sha256, f"notdeleted:{len(deletes)}"))
                deletes.append(old.path)
            elif now.sha256 is not None:
                changes.append(Change("file", old.path, "conflict", before=LEFT_CHANGED))
        if start_script:
            changes_ss, write_ss = self._start_script_change(read)
            changes += changes_ss
            if write_ss:
                block = _block_hash(write_ss[0].content)
                lines.append(block_line(start_script, block, f"wrote:{len(writes)}"))
            else:
                current = read.result.files.get(start_script)
                if current is not None and current.content is not None:
                    lines.append(block_line(start_script, _block_hash(current.content)))
            writes += write_ss
        # DRILL-1: the canary files the jobs' runs will write are clpbackup's too (uninstall); the
        # canary of a job taken out of the plan goes while it still starts with clpbackup's mark
        canaries = nodestate.canary_paths(self.plan)
        lines += [canary_line(path) for path in canaries]
        for canary in state.record.canaries:
            if canary.path.lower() in {c.lower() for c in canaries}:
                continue
            now = read.result.files.get(canary.path)
            if now is None or now.error is not None:
                lines.append(canary_line(canary.path))
            elif (now.content or b"").startswith(render.CANARY_MARK.encode("ascii")):
                changes.append(Change("file", canary.path, "delete", before=now.sha256))
                lines.append(canary_line(canary.path, f"notdeleted:{len(deletes)}"))
                deletes.append(canary.path)
        sched = nodestate.schedule_changes(self.plan, read.node, art, state, adopt=self.adopt)
        changes += sched.changes
        conflicts += sched.conflicts
        prelude = self._prelude_commands(read)
        all_commands: list[CommandSpec] = [*prelude, *sched.commands]
        for line in sched.record:
            lines.append(_shift(line, len(prelude)))
        lines += _drill_lines(state, leftovers)
        record = RecordWrite(
            render.record_path(self.plan), [x.text for x in lines], [x.when for x in lines]
        )
        unchanged_record = not writes and not all_commands and not deletes and _record_bytes(lines) == (
            _record_on_node(read, self.plan)
        )
        if unchanged_record:
            return changes, None, conflicts
        if not writes and not all_commands and not deletes:
            changes.append(Change("record", render.record_path(self.plan), "update"))
        guards: list[Guard] = [Guard(path=render.record_path(self.plan), sha256=state.record_sha256)]
        if state.at_listing is not None:
            guards.append(Guard(command=get_platform(read.node.os).at_query(), stdout=state.at_listing))
        guards += self._live_guard(read, runs, touched, sched.changes)
        return (
            changes,
            ApplyRequest(
                writes=writes,
                deletes=deletes,
                commands=all_commands,
                stop_on_error=True,
                # ACL-1: a missing scripts folder is created locked before anything goes into it
                locked_dirs=[] if read.facts.scripts_dir_exists else [self.plan.scripts_dir],
                lock=self._node_lock(),
                guards=guards,
                record=record,
            ),
            conflicts,
        )

    def _live_guard(
        self,
        read: _NodeRead,
        runs: Mapping[str, list[nodestate.LiveRun]],
        touched: Sequence[str],
        schedule: Sequence[Change],
    ) -> list[Guard]:
        """LIVE-1 under the node lock (LOCK-1): the tasks that run a batch file this apply writes or
        deletes, and the tasks it replaces or deletes, must not show Running when the apply starts;
        if one does (its run began after the read), the apply is stale: read again, decide again."""
        tasks = [r.task for path in touched for r in runs.get(path.lower(), [])]
        tasks += [
            c.name for c in schedule if c.action in ("update", "delete") and not c.name.startswith("AT ")
        ]
        guard = nodestate.running_guard(get_platform(read.node.os).schtasks_query(), tasks)
        if guard is None or read.state.tasks is None:
            return []
        return [Guard(command=guard[0], refuse=guard[1])]

    @staticmethod
    def _held_problems(name: str, changes: Sequence[Change]) -> list[Problem]:
        """LIVE-1: each change left for the next deploy, with its reason (the change's ``after``)."""
        return [Problem("LIVE-1", c.after or c.name, name) for c in changes if c.action == "held"]

    def _node_lock(self) -> NodeLock:
        lease = int(self.plan.connection.deadline) + 60
        return NodeLock(render.lock_path(self.plan), self._lock_owner, lease, int(self.lock_wait))

    def _start_script_change(self, read: _NodeRead) -> tuple[list[Change], list[FileWrite]]:
        path = self.plan.cluster.start_script
        assert path
        name = read.node.name
        codepage = self.plan.codepage_for(read.node)
        fragment = self.artifacts[name].file("start-fragment").content
        current = read.result.files.get(path)
        if current is None or current.content is None:
            raise PreflightFailed(
                f"the CLUSTERPRO start script {path} does not exist on the node",
                node=name,
                rule="FO-1",
                hint="create the script resource in CLUSTERPRO first, or correct cluster.start_script",
            )
        before = current.content
        try:
            # bytes in, bytes out: a decode/encode round trip would rewrite the operator's cp932 text
            after = splice(before, fragment)
        except StartScriptError as exc:
            raise PreflightFailed(str(exc), node=name, rule="FO-1") from None
        if after == before:
            return [Change("start-script", path, "unchanged")], []
        shown = f"cp{codepage}"
        return (
            [
                Change(
                    "start-script",
                    path,
                    "update",
                    before=before.decode(shown, errors="replace"),
                    after=after.decode(shown, errors="replace"),
                )
            ],
            [FileWrite(path, after)],
        )

    def _start_script_problems(self, read: _NodeRead) -> list[Problem]:
        """FO-1: does the start script on the node hold this plan's block where a FAILOVER run passes?"""
        path = self.plan.cluster.start_script
        if not path:
            return []
        name = read.node.name
        current = read.result.files.get(path)
        if current is None or current.content is None:
            return [Problem("FO-1", f"the CLUSTERPRO start script {path} does not exist on the node", name)]
        fragment = self.artifacts[name].file("start-fragment").content
        try:
            state = block_state(current.content, fragment)
        except StartScriptError as exc:
            return [Problem("FO-1", str(exc), name)]
        why = {
            "ok": "",
            "missing": f"the start script {path} has no clpbackup block, so a failover starts no "
            "backup (FO-2); an Apply of the cluster configuration rewrites the script without it. "
            "Run deploy, then carry the script into the cluster configuration "
            "(docs/operations.md, 'The start script lives in the cluster configuration')",
            "outdated": f"the clpbackup block in the start script {path} is not this plan's; run "
            "deploy, then carry the script into the cluster configuration",
            "misplaced": f"the clpbackup block in the start script {path} comes after a line that "
            "can branch or exit, so a FAILOVER run may never reach it; run deploy (it moves the "
            "block), then carry the script into the cluster configuration",
        }[state]
        return [Problem("FO-1", why, name)] if why else []

    def _check_applied(self, name: str, applied: ApplyResult) -> None:
        for f in applied.files:
            if not f.sha256:
                # the node's own reason (access denied, a folder in the way, disk full) decides what
                # the operator does next: keep it, with the path (issue #10)
                reason = (f.error or "").strip() or "the node gave no reason"
                raise RemoteCommandFailed(
                    f"writing {f.path} failed: {reason}",
                    node=name,
                    hint="fix the cause on the node, then re-run deploy: it writes only what is missing",
                )
        for path, error in applied.delete_errors.items():
            raise RemoteCommandFailed(
                f"deleting {path} failed: {error.strip()}",
                node=name,
                hint="it stays in clpbackup's record (OWN-1): close what holds it, then re-run deploy, "
                "which deletes it",
            )
        for c in applied.commands:
            if c.ran and c.rc != 0 and not nodestate.benign_failure(c):
                raise RemoteCommandFailed(
                    f"{c.argv[0]} failed with exit code {c.rc}: {(c.stderr or c.stdout).strip()[:300]}",
                    node=name,
                    argv=c.argv,
                    rc=c.rc,
                    stdout=c.stdout,
                    stderr=c.stderr,
                    hint="re-run deploy: it reads the node again and applies only what is missing",
                )

    # -- status -------------------------------------------------------------------------------------

    @_operation
    def status(self, *, node: str | None = None) -> ClusterResult[StatusResult]:
        """Where each node stands: schedules, last runs, Schedule service, versions, owner, drift.

        With ``node`` only that node is asked: the other one is "not asked", never "could not be
        read". The owner is then decided only when clpstat on the asked node confirms it; otherwise
        the owner check is skipped (a note, not a problem) and so is the drift check (it compares
        both nodes).
        """
        names = self._node_names(node)
        reads = self._each(names, lambda n: self._read(n, logs=True, versions=True, events=True))
        decision = self._decide(reads)
        not_asked = [n.name for n in self.plan.nodes if n.name not in reads]
        skipped = bool(not_asked) and not decision.known
        values = _then(reads, lambda _n, r: self._status_node(r, decision, owner_checked=not skipped))
        problems: list[Problem] = []
        notes: list[str] = []
        if self.plan.cluster.switchover_volumes and not decision.known:
            if skipped:
                notes.append(
                    f"owner check skipped: {', '.join(not_asked)} not asked; it needs both nodes (or clpstat "
                    f"on {', '.join(names)} confirming it runs the group) — run status without --node"
                )
            else:
                problems.append(Problem("FO-2", "switchover owner unknown: " + "; ".join(decision.reasons)))
        if not_asked:
            notes.append(f"drift between the nodes not checked: {', '.join(not_asked)} not asked")
        else:
            problems += nodestate.drift(self.plan, _values(values))
        return ClusterResult("status", values, problems, notes)

    def _decide(self, reads: Mapping[str, _NodeRead | ClpBackupError]) -> OwnerDecision:
        """The owner from the nodes that could be read (a node that could not is missing evidence;
        a node missing from ``reads`` was not asked)."""
        ok = _values(reads)
        facts = {n.name: (ok[n.name].facts if n.name in ok else None) for n in self.plan.nodes}
        clpstat = {n: r.state.clpstat_current for n, r in ok.items()}
        return decide_owner(
            facts,
            self.plan.cluster.switchover_volumes,
            clpstat_current=clpstat if self.plan.cluster.clpstat else None,
            not_asked=[n.name for n in self.plan.nodes if n.name not in reads],
        )

    def _status_node(
        self, read: _NodeRead, decision: OwnerDecision, *, owner_checked: bool = True
    ) -> StatusResult:
        name = read.node.name
        problems = self._preflight(read, for_write=False)
        owner = None if not decision.known else decision.owner == name
        res = StatusResult(
            name,
            os=read.facts.os,
            owner=owner,
            owner_checked=owner_checked,
            problems=problems,
            schedule_service=f"{read.facts.schedule_start_mode}/{read.facts.schedule_state}",
        )
        art = self.artifacts[name]
        live = nodestate.live_files(nodestate.batch_runs(read.state, [f.path for f in art.files]))
        for f in art.files:
            if f.role == "start-fragment" and self.plan.cluster.start_script:
                continue
            have = read.result.files.get(f.path)
            state = (
                "missing"
                if not have or have.sha256 is None
                else ("matching" if have.sha256 == f.sha256 else "different")
            )
            res.files[f.path] = state
            run = live.get(f.path.lower())
            if state != "matching" and run is not None:
                # why the node is not yet as planned: deploy leaves the file until the run ends
                why = run.problem_text(f.job, "deploy leaves it as it is until then")
                res.problems.append(Problem("JOB-1", f"{f.path} is {state}; {why}", name))
            elif state != "matching":
                res.problems.append(Problem("JOB-1", f"{f.path} is {state}; run deploy", name))
        res.problems += self._start_script_problems(read)
        res.schedules = nodestate.schedule_status(self.plan, read.node, art, read.state, owner)
        for s in res.schedules:
            if s.state in ("missing", "different"):
                res.problems.append(Problem("SCH-1", f"schedule {s.name} is {s.state}; run deploy", name))
            if s.state == "foreign" and s.job:
                # a foreign task holds a name the plan needs: deploy refuses the node until it is gone
                res.problems.append(Problem("OWN-1", f"{s.name}: {s.verdict}", name))
            if s.verdict.startswith("failed"):
                res.problems.append(Problem("BACKUP", f"{s.job}: {s.verdict}", name))
            if s.verdict.startswith(nodestate.FAILED_DRILL):
                res.problems.append(Problem("DRILL-2", f"{s.job}: {s.verdict}", name))
            if s.verdict.startswith(nodestate.PASSED_ONE_SHOT):
                res.problems.append(Problem("FO-2", f"{s.name}: {s.verdict}", name))
        res.versions = nodestate.newest_versions(self.plan, read.node, read.state)
        res.drills = nodestate.last_drills(self.plan, read.state)
        res.problems += nodestate.version_problems(read.node, read.state)
        res.notes += read.state.notes
        res.notes += [x.note() for x in nodestate.drill_leftovers(self.plan, read.state, read.result.files)]
        res.notes += self._unread_acl(read)
        res.notes += [f"WSB-3: {text}" for text in read.state.version_pending.values()]
        res.events = nodestate.node_events(read.state)
        if res.events is None:
            res.notes.append(
                "ALERT-1: the Application event log could not be read back: "
                + read.state.errors.get("events", "no answer")
            )
        return res

    # -- failover / failback ----------------------------------------------------------------------

    @_operation
    def failover_backup(
        self, at: str | None = None, *, check: bool = False, replace: bool = False
    ) -> ClusterResult[ScheduleResult]:
        """FO-2: schedule the one-shot full backup of the switchover job on the owner only.

        ``at`` is ``"HH:MM"``, ``"now"`` or ``None`` (the plan's ``failover_backup.at``). Refused,
        with the reason, when the owner is unknown. Idempotent: no second one-shot for the same event.
        A different one-shot of the job still waiting to run (a failback one at another time) is
        not replaced unless ``replace=True``; the result then names what it replaced.
        ``check=True`` says what would be scheduled (and on which node) and changes nothing; the
        result's ``changed`` is then what *would* change (Ansible's convention).
        """
        fb = self.plan.failover_backup
        if fb is None:
            raise PlanError(
                "the plan has no failover_backup section",
                field="failover_backup",
                hint="add failover_backup: {job: <switchover job>, at: HH:MM|now} (FO-2)",
            )
        return self._one_shot(
            "failover-backup", fb.job, at or fb.at, rule="FO-2", check=check, replace=replace
        )

    @_operation
    def failback_backup(
        self, at: str | None = None, *, job: str | None = None, check: bool = False, replace: bool = False
    ) -> ClusterResult[ScheduleResult]:
        """FB-1: after failback, run the switchover backup once on the owner (now, or at ``HH:MM``).

        The one-shot has the failover one's task name: when a failover one-shot (FO-2) is still
        waiting to run on the owner, the call is refused (``action == "refused"``, an FB-1 problem)
        unless ``replace=True``, and then the result names what it replaced (``replaced``).
        ``check=True`` says what would be scheduled (and on which node) and changes nothing; the
        result's ``changed`` is then what *would* change (Ansible's convention).
        """
        if job is None:
            if self.plan.failover_backup is not None:
                job = self.plan.failover_backup.job
            else:
                jobs = self.plan.switchover_jobs()
                if not jobs:
                    raise PlanError("the plan has no switchover job", field="jobs")
                job = jobs[0]
        return self._one_shot("failback-backup", job, at or "now", rule="FB-1", check=check, replace=replace)

    def _one_shot(
        self, operation: str, job: str, at: str, *, rule: str, check: bool = False, replace: bool = False
    ) -> ClusterResult[ScheduleResult]:
        if job not in self.plan.jobs:
            raise PlanError(f"no job named {job!r}", field="jobs")
        if at != "now":
            try:
                parse_hhmm(at)
            except ValueError as exc:
                raise PlanError(str(exc), field="at") from None
            overlap = nodestate.daily_overlap(self.plan, self.artifacts, job, at)
            if overlap:
                raise PlanError(
                    f"SCH-3: a one-shot backup at {at} overlaps {overlap}",
                    field="at",
                    hint="choose a time outside the daily backup windows",
                )
        names = self._node_names()
        reads = self._each(names, lambda n: self._read(n))
        decision = self._decide(reads)
        if not decision.known:
            reason = "; ".join(decision.reasons)
            refused = f"owner of the switchover partition unknown, nothing started: {reason}"
            values = _then(
                reads,
                lambda n, _r: ScheduleResult(
                    n, job=job, at=at, action="refused", check=check, problems=[Problem(rule, refused, n)]
                ),
            )
            return ClusterResult(operation, values, [Problem(rule, "owner unknown: " + reason)], check=check)
        owner = decision.owner
        assert owner is not None
        others = {n: r for n, r in reads.items() if n != owner}
        values = _then(
            others,
            lambda n, _r: ScheduleResult(
                n, job=job, at=at, action="not the owner: nothing to do", check=check
            ),
        )
        values.update(
            self._each_value(
                {owner: reads[owner]}, lambda r: self._one_shot_node(r, job, at, rule, check, replace)
            )
        )
        return ClusterResult(
            operation, values, notes=[f"owner: {owner} ({decision.evidence.get(owner, '')})"], check=check
        )

    def _one_shot_node(
        self, read: _NodeRead, job: str, at: str, rule: str, check: bool, replace: bool
    ) -> ScheduleResult:
        name = read.node.name
        self._preflight(read, for_write=True)
        action, commands = nodestate.one_shot_commands(
            self.plan, read.node, self.artifacts[name], read.state, job, at
        )
        res = ScheduleResult(name, job=job, at=at, action=action, check=check)
        if not commands:
            return res
        pending = nodestate.pending_one_shot(self.plan, read.node, read.state, job, at)
        if pending is not None:
            what = pending.describe(self.plan)
            if not replace:
                res.action = "refused"
                res.problems.append(Problem(
                    rule,
                    f"another one-shot of {job} is waiting to run: {what}; this call would replace it. "
                    "Nothing was changed. Run again with --replace (replace=True) to replace it, "
                    "or leave it to run",
                    name,
                ))
                return res
            res.replaced = what
            if pending.delete is not None:
                commands = [pending.delete, *commands]
            verb = "would replace" if check else "replaced"
            res.notes.append(f"{rule}: {verb} the pending one-shot {what}")
        if check:
            res.action = "would be " + action
            res.changed = True
            res.notes.append(f"{rule}: would run " + "; ".join(_shown(c) for c in commands))
            return res
        once = render.task_name(self.plan, job, once=True)
        applied = self._apply_once(
            name,
            commands,
            started=lambda again: at == "now" and nodestate.run_started(read.state, again.state, once),
            missing=lambda again: nodestate.one_shot_commands(
                self.plan, again.node, self.artifacts[name], again.state, job, at
            )[1],
        )
        if applied is not None:
            self._check_applied(name, applied)
        res.changed = True
        res.notes.append(f"{rule}: {action}")
        return res

    def _apply_once(
        self,
        name: str,
        commands: Sequence[CommandSpec],
        *,
        started: Callable[[_NodeRead], bool],
        missing: Callable[[_NodeRead], Sequence[CommandSpec]],
    ) -> ApplyResult | None:
        """Run commands that schedule or start a backup, exactly once.

        When the connection fails or the deadline passes during the apply, the commands may have
        run and only the answer was lost: they are never sent again blindly (a second backup).
        The node is read again; when ``started`` says the run is there, nothing more is sent
        (``None``); otherwise only the ``missing`` commands are applied (IDEM-1, as deploy does).

        The commands run under the node lock (LOCK-1), as a deploy's do: a one-shot is not created,
        nor a run started, while another clpbackup rewrites the node's batch files and tasks
        (:class:`NodeBusy`, nothing changed). The scripts folder is created locked (ACL-1) if the
        lock's file is the first thing to go into it.
        """

        def request(specs: Sequence[CommandSpec]) -> ApplyRequest:
            return ApplyRequest(
                commands=specs, stop_on_error=True, lock=self._node_lock(),
                locked_dirs=[self.plan.scripts_dir],
            )

        try:
            applied = self._apply(name, request(commands))
            self._refuse_if_busy(name, applied)
            return applied
        except AuthenticationFailed as exc:
            # Refused part-way: the commands may have run, and reading the node again would only be
            # refused too (and count towards an account lockout). Say so instead of guessing.
            _may_have_started(
                exc, "the node may have scheduled or started the backup before it refused the credentials"
            )
            raise
        except (ConnectionFailed, NodeTimeout):
            self._drop_session(name)
            again = self._read(name)
            if started(again):
                return None
            rest = missing(again)
            if not rest:
                return None
            applied = self._apply(name, request(rest))
            self._refuse_if_busy(name, applied)
            return applied

    # -- run now ----------------------------------------------------------------------------------

    @_operation
    def run_backup(
        self,
        job: str,
        node: str | None = None,
        *,
        wait: bool = True,
        timeout: float = 6 * 3600,
        progress: Progress | None = None,
    ) -> ClusterResult[RunResult] | BackupHandle:
        """Run a job now through the node's scheduler (detached), then poll until done or ``timeout``.

        A local job runs on both nodes (or ``node``); a switchover job runs on the owner only (refused
        when the owner is unknown). ``wait=False`` returns a :class:`BackupHandle` to poll later.
        """
        if job not in self.plan.jobs:
            raise PlanError(
                f"no job named {job!r}; the plan's jobs are {', '.join(self.plan.jobs)}", field="jobs"
            )
        names = self._node_names(node)
        reads = self._each(self._node_names(), lambda n: self._read(n))
        targets = names
        if self.plan.jobs[job].scope == "switchover":
            decision = self._decide(reads)
            if not decision.known:
                raise OwnerUnknown(
                    "JOB-5/RS-1: owner of the switchover partition unknown, nothing started: "
                    + "; ".join(decision.reasons)
                )
            assert decision.owner is not None
            if node is not None and decision.owner != names[0]:
                raise OwnerUnknown(
                    f"{names[0]} does not own the switchover partition ({decision.owner} does)",
                    node=names[0],
                    hint="run it without node= or on the owner (JOB-3)",
                )
            targets = [decision.owner]
        started = self._each_value({n: reads[n] for n in targets}, lambda r: self._start_run(r, job))
        before = _values(started)
        handle = BackupHandle(self, job, list(before), before, _errors(started))
        if not wait:
            return handle
        result = handle.wait(timeout, progress or self.progress)
        return ClusterResult("run", {**result, **_errors(started)}, result.problems)

    def _start_run(self, read: _NodeRead, job: str) -> RunMarker:
        """Start ``job`` on the node; the marker of where its task stood before (to see the new run)."""
        name = read.node.name
        self._preflight(read, for_write=True)
        art = self.artifacts[name]
        before = nodestate.last_run_marker(self.plan, read.node, art, read.state, job)
        commands = nodestate.run_now_commands(self.plan, read.node, art, read.state, job)
        task = nodestate.run_task_name(self.plan, read.node, art, read.state, job)
        applied = self._apply_once(
            name,
            commands,
            started=lambda again: nodestate.run_started(read.state, again.state, task),
            missing=lambda again: nodestate.run_now_commands(self.plan, again.node, art, again.state, job),
        )
        if applied is not None:
            self._check_applied(name, applied)
        return before

    def _poll_runs(
        self, job: str, nodes: Sequence[str], before: Mapping[str, RunMarker]
    ) -> ClusterResult[RunResult]:
        def one(n: str) -> RunResult:
            read = self._read(n, logs=True, versions=True)
            return nodestate.run_result(
                self.plan, read.node, self.artifacts[n], read.state, job, before.get(n)
            )

        return ClusterResult("run", self._each(nodes, one))

    def _wait_runs(
        self,
        job: str,
        nodes: Sequence[str],
        before: Mapping[str, RunMarker],
        timeout: float,
        progress: Progress | None,
    ) -> ClusterResult[RunResult]:
        deadline = time.monotonic() + timeout
        delay = self.poll_initial
        pending = list(nodes)
        final: dict[str, RunResult | ClpBackupError] = {}
        while True:
            result = self._poll_runs(job, pending, before)
            failed, succeeded = result.failed, result.succeeded
            for n in result:
                if n in failed:
                    final[n] = _may_have_started(
                        failed[n], f"{job} was started on the node; its outcome could not be read"
                    )
                    said = "error"
                elif succeeded[n].outcome != "running":
                    final[n] = succeeded[n]
                    said = succeeded[n].outcome
                else:
                    if progress:
                        pct = succeeded[n].progress
                        progress(n, "running" if pct is None else f"running {pct}%")
                    continue
                if progress:
                    progress(n, said)
            pending = [n for n in pending if n not in final]
            if not pending:
                break
            if time.monotonic() + delay > deadline:
                for n in pending:
                    final[n] = RunResult(
                        n,
                        job=job,
                        outcome="timeout",
                        problems=[Problem("RUN", f"{job} still running after {timeout:.0f} s", n)],
                    )
                break
            try:
                time.sleep(delay)
            except KeyboardInterrupt:
                # Ctrl-C while waiting stops the waiting, not the backup the node already runs:
                # say so per node instead of a bare "interrupted" (starting it again would run it twice)
                waiting: dict[str, RunResult | ClpBackupError] = dict(final)
                for n in pending:
                    waiting[n] = RunResult(
                        n,
                        job=job,
                        outcome="running",
                        problems=[
                            Problem(
                                "RUN",
                                f"{job} was started and still runs; Ctrl-C stopped the waiting, not the "
                                "backup: look with status() before starting it again",
                                n,
                            )
                        ],
                    )
                raise OperationInterrupted(ClusterResult("run", waiting)) from None
            delay = min(delay * 2, self.poll_max)
        return ClusterResult("run", {n: final[n] for n in nodes})

    # -- restore drill (DRILL-1) ---------------------------------------------------------------------

    @_operation
    def drill(
        self,
        job: str | None = None,
        node: str | None = None,
        check: bool = False,
        *,
        timeout: float = 3600,
    ) -> ClusterResult[DrillResult]:
        """DRILL-1: prove the newest backup of each job (or ``job``) can be read back.

        On each node that holds the job's data — both nodes for a local job (or ``node``), the owner
        of the switchover partition for a switchover job (RS-1: a drill on the standby is refused,
        with the reason) — the job's drill script recovers the canary the backup's run wrote from the
        newest version (wbadmin ``start recovery -itemType:File``, as SYSTEM through a one-shot task:
        a WinRM session cannot read a share, the second hop) into a scratch folder, and clpbackup
        compares the token with the ones the job's runs recorded. The scratch copy is deleted, the
        one-shot task too, and the verdict is written to ``logs\\<job>-drill.txt`` for status. The
        script and the task enter clpbackup's record (OWN-1) before the task exists and leave it when
        they are deleted: what a drill that did not end left, uninstall removes.
        On 2003 the verdict is ``limited``: NTBackup's own log is checked, and the result says that
        a file-level drill needs its GUI. ``check=True`` shows the commands and runs nothing.

        The plan's ``drill`` option (DRILL-2) has deploy schedule the same check on the nodes as a
        weekly task of their own; it writes the same verdict file, so status shows whichever ran
        last. This drill picks, for a switchover job, the newest version of either node (RS-1); the
        weekly task drills each node's own versions.
        """
        jobs = [job] if job is not None else list(self.plan.jobs)
        for j in jobs:
            if j not in self.plan.jobs:
                raise PlanError(
                    f"no job named {j!r}; the plan's jobs are {', '.join(self.plan.jobs)}", field="jobs"
                )
        if node is not None:
            self.plan.node(node)
        reads = self._each(self._node_names(), lambda n: self._read(n, logs=True, versions=True, drill=True))
        ok = _values(reads)
        states = {n: r.state for n, r in ok.items()}
        decision = self._decide(reads) if any(self.plan.jobs[j].scope == "switchover" for j in jobs) else None
        plans: dict[str, list[tuple[str, str | None]]] = {n.name: [] for n in self.plan.nodes}
        for j in jobs:
            for n, refusal in self._drill_nodes(j, node, decision):
                plans[n].append((j, refusal))
        targets = {n: reads[n] for n, todo in plans.items() if todo}
        values = self._each_value(
            targets, lambda r: self._drill_node(r, plans[r.node.name], states, check, timeout)
        )
        notes = []
        if decision is not None and decision.known:
            notes.append(f"owner: {decision.owner} ({decision.evidence.get(decision.owner or '', '')})")
        operation = "drill --check" if check else "drill"
        return ClusterResult(operation, values, notes=notes, check=check)

    def _drill_nodes(
        self, job: str, node: str | None, decision: OwnerDecision | None
    ) -> list[tuple[str, str | None]]:
        """Where ``job`` is drilled, with the refusal (RS-1) that stands instead of a drill."""
        if self.plan.jobs[job].scope == "local":
            return [(n, None) for n in self._node_names(node)]
        assert decision is not None
        if not decision.known:
            why = "RS-1: owner of the switchover partition unknown, no drill: " + "; ".join(decision.reasons)
            return [(n, why) for n in self._node_names(node)]
        owner = decision.owner
        assert owner is not None
        if node is not None and self.plan.node(node).name != owner:
            return [(
                self.plan.node(node).name,
                f"RS-1: {self.plan.node(node).name} is the standby (the switchover partition is attached to "
                f"{owner}): the switchover data is restored, and drilled, from the node that has it "
                f"attached; run the drill without --node, or with --node {owner}",
            )]
        return [(owner, None)]

    def _drill_node(
        self,
        read: _NodeRead,
        todo: Sequence[tuple[str, str | None]],
        states: Mapping[str, nodestate.NodeState],
        check: bool,
        timeout: float,
    ) -> DrillResult:
        name = read.node.name
        res = DrillResult(name, check=check)
        platform = get_platform(read.node.os)
        writes: list[FileWrite] = []
        ended: list[str] = []
        latest = read
        if not check and any(refusal is None for _, refusal in todo):
            self._preflight(read, for_write=True)
        for job, refusal in todo:
            if refusal is not None:
                drilled = JobDrill(job, "refused", message=refusal)
                why = refusal.removeprefix("RS-1: ")
                res.problems.append(Problem("RS-1", f"{job} refused: {why}", name))
            elif platform.backup_tool == "ntbackup":
                when, why = nodestate.ntbackup_drill(self.plan, read.node, read.state, job)
                drilled = JobDrill(job, "limited", version=when, machine=name if when else None, message=why)
                res.problems.append(Problem("DRILL-1", f"{job}: limited — {why}", name))
            else:
                drilled, latest = self._drill_job(read, latest, job, states, check, timeout)
                if drilled.verdict not in ("pass", "would-run"):
                    rule = "RS-1" if drilled.verdict == "refused" else "DRILL-1"
                    res.problems.append(Problem(rule, f"{job}: {drilled.verdict} — {drilled.message}", name))
                if drilled.seconds is not None:  # it ran and ended: its script and one-shot task go
                    ended.append(job)
            if drilled.ran_at is None:
                drilled.ran_at = _utc_now()
            res.drills.append(drilled)
            if not check and drilled.verdict != "refused":
                path = render.drill_result_path(self.plan, job)
                writes.append(FileWrite(path, _drill_record(drilled)))
        if not writes and not ended:
            return res

        def finish(now: _NodeRead) -> ApplyRequest:
            # one request: the verdicts for status, and the drills' scripts and one-shot tasks
            # removed, and with them their entries in the record (OWN-1; a task whose deletion
            # fails stays recorded)
            if not ended:
                return ApplyRequest(writes=writes, stop_on_error=False)
            scripts = [render.drill_script_path(self.plan, j) for j in ended]
            tasks = [render.drill_task_name(self.plan, j) for j in ended]
            kept = without(self._record_lines(now), files=scripts, tasks=tasks)
            lines = [RecordLine(x) for x in kept]
            for i, script in enumerate(scripts):
                f = now.state.record.file(script)
                if f is not None:  # a script whose deletion fails stays recorded: the next run retries
                    lines.append(file_line(f.path, f.sha256, f"notdeleted:{i}"))
            for i, task in enumerate(tasks):
                t = now.state.record.task(task)
                if t is not None:
                    lines.append(RecordLine(task_line(t.name, t.run, t.at, t.kind).text, f"notran:{i}"))
            return ApplyRequest(
                writes=writes,
                deletes=scripts,
                commands=[platform.schtasks_delete(t) for t in tasks],
                stop_on_error=False,
                lock=self._node_lock(),
                guards=[Guard(path=render.record_path(self.plan), sha256=now.state.record_sha256)],
                record=RecordWrite(
                    render.record_path(self.plan), [x.text for x in lines], [x.when for x in lines]
                ),
            )

        if ended:
            applied = self._apply_locked(name, finish(latest), decide=finish)
        else:
            applied = self._apply(name, finish(latest))
        for c in applied.commands:
            if not c.ok and not nodestate.benign_failure(c):
                res.notes.append(f"could not delete {c.argv[-2]}: {(c.stderr or c.stdout).strip()}")
        for path, why in applied.delete_errors.items():
            res.notes.append(
                f"could not delete {path}: {why.strip()}; it stays in clpbackup's record (OWN-1): "
                "the next drill or uninstall deletes it"
            )
        res.changed = True
        return res

    def _record_lines(self, read: _NodeRead) -> list[str]:
        """The node's record as read, line by line, to write it again with drill entries added or
        taken out; an unreadable record is never written over (OWN-1)."""
        if "record" in read.state.errors:
            raise PreflightFailed(
                "clpbackup's record on the node cannot be read: " + read.state.errors["record"],
                node=read.node.name,
                rule="OWN-1",
                hint="no drill was started; look at " + render.record_path(self.plan),
            )
        return record_lines(_record_on_node(read, self.plan), self.plan.cluster.name)

    def _drill_job(
        self,
        read: _NodeRead,
        latest: _NodeRead,
        job: str,
        states: Mapping[str, nodestate.NodeState],
        check: bool,
        timeout: float,
    ) -> tuple[JobDrill, _NodeRead]:
        """Drill ``job`` on ``read``'s node; ``latest`` is the newest read of it (its record is
        the one to add to). Returns the verdict and the newest read."""
        name = read.node.name
        platform = get_platform(read.node.os)
        if render.canary_path(self.plan, job) is None:
            why = f"{job} has no canary (no volume or folder of it can hold one)"
            return JobDrill(job, "refused", message=why), latest
        source = nodestate.drill_source(self.plan, states, job, name)
        if source.version is None or source.machine is None:
            return JobDrill(job, "fail", message=source.problem or "no version"), latest
        version, machine = source.version, source.machine
        script = render.drill_script(self.plan, read.node, job, version.version_id, machine)
        assert script is not None  # a wbadmin job with a canary
        task = render.drill_task_name(self.plan, job)
        run = run_batch(script.path, field="scripts_dir")
        commands: list[CommandSpec] = [
            platform.schtasks_once(task, "00:00", run, field="jobs"),
            platform.schtasks_run(task, field="jobs"),
        ]
        shown = [_shown(c) for c in commands]  # type: ignore[arg-type]
        drilled = JobDrill(
            job,
            "would-run" if check else "fail",
            version=version.version_id,
            machine=machine,
            recovery_point=version.time_utc.isoformat(),
            commands=[f"write {script.path}"] + shown
            + [_shown(c) for c in _drill_wbadmin(self.plan, read.node, job, version.version_id, machine)],
        )
        if check:
            return drilled, latest
        started = time.monotonic()
        # OWN-1: the script and the task enter the record in the request that writes the script,
        # before it (and long before the task exists), so that a drill that never gets to delete
        # them (connection lost, deadline, Ctrl-C, its wait running out) leaves nothing uninstall
        # cannot remove
        entries = [
            file_line(script.path, hashlib.sha256(script.content).hexdigest()).text,
            task_line(task, run, "00:00", "once").text,
        ]

        def start(now: _NodeRead) -> ApplyRequest:
            lines = without(self._record_lines(now), files=[script.path], tasks=[task]) + entries
            return ApplyRequest(
                writes=[
                    FileWrite(render.record_path(self.plan), record_bytes(lines)),
                    FileWrite(script.path, script.content),
                ],
                commands=commands,
                stop_on_error=True,
                lock=self._node_lock(),
                guards=[Guard(path=render.record_path(self.plan), sha256=now.state.record_sha256)],
            )

        applied: ApplyResult | None = None
        for _attempt in range(_STALE_RETRIES):
            try:
                applied = self._apply(name, start(latest))
            except (ConnectionFailed, NodeTimeout):
                # the answer was lost, not necessarily the run: never start a recovery twice blindly
                self._drop_session(name)
                latest = self._read(name, drill=True)
                applied = None
                if nodestate.run_started(read.state, latest.state, task):
                    break
                applied = self._apply(name, start(latest))
            self._refuse_if_busy(name, applied)
            if not applied.stale:
                break
            latest = self._read(name, drill=True)  # another writer changed the record first
        else:
            raise NodeBusy(
                f"the record changed under every one of {_STALE_RETRIES} attempts to start the drill; "
                "nothing was started",
                node=name,
                hint="another clpbackup is changing the node; run the drill again when it is done",
            )
        if applied is not None:
            self._check_applied(name, applied)
        deadline = started + timeout
        delay = self.poll_initial
        while True:
            again = self._read(name, drill=True)
            if nodestate.drill_done(again.state, task):
                break
            if time.monotonic() + delay > deadline:
                drilled.message = (
                    f"the drill still runs after {timeout:.0f} s; its task {task} is left to finish "
                    "(the next drill or uninstall removes it)"
                )
                return drilled, again
            time.sleep(delay)
            delay = min(delay * 2, self.poll_max)
        drilled.seconds = round(time.monotonic() - started, 1)
        holder = states.get(machine, again.state) if machine != name else again.state
        log_text = again.state.drill_files.get(render.drill_log_path(self.plan, job))
        verdict, message, log = nodestate.drill_verdict(self.plan, holder, job, version, log_text)
        drilled.verdict, drilled.message = verdict, message
        if log is not None:
            drilled.token, drilled.written = log.token, log.written
        ran = again.state.task(task)
        offset = nodestate.local_offset(version)
        if ran is not None and ran.last_run is not None:
            drilled.ran_at = ran.last_run.strftime("%Y-%m-%d %H:%M")
        if ran is not None and ran.last_run is not None and offset is not None:
            age = ran.last_run - offset - version.time_utc.replace(tzinfo=None)
            drilled.age_minutes = max(0, int(age.total_seconds() // 60))
        return drilled, again


    @_operation
    def restore_source(self, item: str) -> RestoreSource:
        """RS-1: which node and version hold the newest copy of switchover data, and how to restore it.

        ``item`` is a switchover volume (``E:``) or a path on it. Never runs a restore.
        """
        job = nodestate.job_for_item(self.plan, item)
        reads = self._each(self._node_names(), lambda n: self._read(n, logs=True, versions=True))
        decision = self._decide(reads)
        states = {n: r.state for n, r in _values(reads).items()}
        return nodestate.restore_source(self.plan, self.artifacts, states, decision, job, item)


def _drill_wbadmin(plan: Plan, node: Node, job: str, version: str, machine: str) -> list[Command]:
    """The ``wbadmin start recovery`` the drill script runs for ``version`` made by ``machine``
    (shown in check mode: the script's own line)."""
    cmd = render.drill_recovery(plan, node, job, version, machine)
    return [] if cmd is None else [cmd]


def _utc_now() -> str:
    """This computer's time, for a drill that ran no task on the node (``… UTC``)."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _drill_record(drilled: JobDrill) -> bytes:
    """The verdict status reads back (``logs\\<job>-drill.txt``): one line of ASCII JSON."""
    import json

    data = {
        "verdict": drilled.verdict,
        "when": drilled.ran_at,
        "version": drilled.version,
        "machine": drilled.machine,
        "recovery_point": drilled.recovery_point,
        "age_minutes": drilled.age_minutes,
        "seconds": drilled.seconds,
        "message": drilled.message,
    }
    return (json.dumps(data, ensure_ascii=True) + "\r\n").encode("ascii")


def _lock_owner() -> str:
    """Who takes the node lock: user, client host and process (shown to a second caller)."""
    import getpass
    import os
    import socket

    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment: the process id still tells
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()} (clpbackup)"


def _holder(text: str) -> str:
    """The lock file's ``owner=…``, ``taken=…``, ``expires=…`` lines as one phrase."""
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if not fields:
        return text.strip() or "holder unknown"
    return (
        f"held by {fields.get('owner', '?')} since {fields.get('taken', '?')}, "
        f"lease until {fields.get('expires', '?')}"
    )


def _shift(line: RecordLine, offset: int) -> RecordLine:
    """A record line whose ``ran:i``/``notran:i`` refers to command ``i + offset``."""
    kind, _, number = line.when.partition(":")
    if kind in ("ran", "notran"):
        return RecordLine(line.text, f"{kind}:{int(number) + offset}")
    return line


def _record_bytes(lines: Sequence[RecordLine]) -> bytes | None:
    """The record when every line is kept whatever happens (``None`` otherwise)."""
    if any(x.when for x in lines):
        return None
    return "".join(x.text + "\r\n" for x in lines).encode("ascii")


def _drill_lines(
    state: nodestate.NodeState, leftovers: Sequence[nodestate.DrillLeftover]
) -> list[RecordLine]:
    """The record's lines of what interrupted drills left (kept as the drill wrote them, last)."""
    lines = []
    for x in leftovers:
        f = state.record.file(x.script) if x.script is not None else None
        t = state.record.task(x.task) if x.task is not None else None
        if f is not None:
            lines.append(file_line(f.path, f.sha256))
        if t is not None:
            lines.append(task_line(t.name, t.run, t.at, t.kind))
    return lines


def _record_on_node(read: _NodeRead, plan: Plan) -> bytes | None:
    f = read.result.files.get(render.record_path(plan))
    return f.content if f is not None else None


def _block_hash(content: bytes) -> str:
    """SHA-256 of clpbackup's block in a start script (its lines, as bytes); ``""`` without one."""
    import hashlib

    lines = split_lines(content)
    try:
        block = find_block(lines)
    except StartScriptError:
        block = None
    if block is None:
        return ""
    return hashlib.sha256(b"".join(lines[block[0] : block[1] + 1])).hexdigest()


def _may_have_started(exc: E, what: str) -> E:
    """Tell, in the error's hint, that a backup may be running although the call failed: starting
    it again blindly would run it twice."""
    return exc.add_hint(f"{what}; look with status() (the job's last run) before starting it again")


# -- per-node values and errors: the one place that tells them apart (as fabric's group _do) ------


def _values(results: Mapping[str, V | ClpBackupError]) -> dict[str, V]:
    """The nodes that have a value, with it."""
    return {n: v for n, v in results.items() if not isinstance(v, ClpBackupError)}


def _errors(results: Mapping[str, V | ClpBackupError]) -> dict[str, ClpBackupError]:
    """The nodes that have an error, with it."""
    return {n: v for n, v in results.items() if isinstance(v, ClpBackupError)}


def _then(
    results: Mapping[str, V | ClpBackupError], fn: Callable[[str, V], T | ClpBackupError]
) -> dict[str, T | ClpBackupError]:
    """``fn(node, value)`` for each node that has a value, in order and in this thread; a node's error
    passes through, and the error ``fn`` raises becomes that node's value (naming the node)."""
    out: dict[str, T | ClpBackupError] = {}
    for n, v in results.items():
        if isinstance(v, ClpBackupError):
            out[n] = v
            continue
        try:
            out[n] = fn(n, v)
        except ClpBackupError as exc:
            out[n] = exc.with_node(n)
    return out


__all__ = ["BackupHandle", "ClusterBackup", "ClusterResult", "OperationInterrupted"]
