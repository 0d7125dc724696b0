"""What a plan's files and command lines must do on a node, derived from ``platforms/``, and the
check of what Wine's cmd.exe and CreateProcess made of them.

Expectations come from the :class:`~clpbackup.commands.Command` objects the platform module builds
(``Command.argv``; ``Command.raw_tail`` for programs that read their own command line) and from the
rendered :class:`~clpbackup.artifacts.NodeArtifacts` (which file, which schedule entry), never from
hard-coded batch text, so changes to render/platforms flow through.

Wine's divergences from Windows (each pinned by ``tests/wine/test_divergences.py`` and listed in
``docs/windows-facts.md``, "Wine as a judge") are handled here, in one place:

* W1 — ``if exist "X:\\"`` is false for every drive root under Wine: the JOB-3 guard lines are
  handed to Wine as ``if not exist "X:\\nul"`` (:func:`wine_bytes`; the count of rewritten lines is
  checked, so a guard in another form fails the judge instead of passing unnoticed).
* W2 — Wine's START rebuilds the child's command line (``"C:\\…\\rsm.exe" refresh "/LFHP DAT72"``):
  for a program started by START only the argv is compared, not the raw tail.
* W3 — ``call x.bat`` where x.bat ends with ``exit /b N`` leaves ERRORLEVEL 1 for any N ≠ 0:
  a file that reaches its tools through ``call`` is expected to exit 1 instead of N under Wine.
* W4 — under load Wine's START sometimes says "File not found." and CreateProcessW error 1359: the
  launcher retries a 1359 once, and a run that lacks expected programs (all of them when START did
  not start failover.bat on FAILOVER) — followed at most by ALERT-1's, the failure branch a failed
  launch takes (:func:`w4_dropped`; seen in CI at stop 20 on NT-1's
  ``start /wait rsm``, and in a long corpus run on failover.bat's ``at``) — is run once more; the
  second run must agree. All retries are counted and reported.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from clpbackup import alerts
from clpbackup.artifacts import ArtifactFile, NodeArtifacts, ScheduleEntry
from clpbackup.commands import Command
from clpbackup.plan import Plan
from clpbackup.platforms import get_platform, run_batch
from clpbackup.render import (
    failover_run,
    job_script_path,
    log_path,
    once_schedule,
    render_node,
    selection_path,
    versions_record,
)
from tests.wine.wine import JUDGE_DIR, PATH_WITHOUT_CLP, Record, RunResult, Step, WinePrefix

#: A tool's failure exit code for the "exit codes come through" runs (any non-zero value would do;
#: 7 is no code cmd.exe or the batch files produce themselves).
TOOL_FAILURE_RC = 7

#: Programs the batch files run that are not platform Commands (the NT-1 pause).
UNCHECKED = frozenset({"ping"})


@dataclass
class Script:
    """One batch file as a scheduler (or the failover script) runs it."""

    file: ArtifactFile
    run: str  # the command line that runs it: the schedule's run string, or cmd /c "<path>"
    expected: list[Command]
    via_call: bool = False  # reaches its tools through `call` (W3)
    guarded: bool = False  # a switchover job's script: exits 303 without the partition (JOB-3)
    log: str | None = None  # the job log its tool's output goes to
    schedule: ScheduleEntry | None = None
    absent: list[Command] = field(default_factory=list)  # what it runs without the partition (JOB-3)
    #: ALERT-1: what a failure raises (clplogcmd, eventcreate), ``%RC%`` still in the message
    alerts: list[Command] = field(default_factory=list)

    def raised(self, rc: int, *, clplogcmd: bool = True) -> list[Command]:
        """The alert commands a run whose tools exit ``rc`` must start (none for 0)."""
        if rc == 0:
            return []
        out = [
            Command(tuple(a.replace(alerts.RC, str(rc)) for a in c.argv), c.os)
            for c in self.alerts
        ]
        return [c for c in out if clplogcmd or c.program != "clplogcmd"]


@dataclass
class NodeCase:
    """Everything one node of a plan gets, with what each piece must do."""

    plan: Plan
    node: str
    art: NodeArtifacts
    scripts: list[Script] = field(default_factory=list)
    fragment: ArtifactFile | None = None
    failover: Script | None = None  # failover.bat (also what the fragment starts on FAILOVER)

    @property
    def codepage(self) -> int:
        return self.art.codepage

    @property
    def letters(self) -> set[str]:
        """Every drive letter the plan's jobs name (the node's volumes), C: aside."""
        found: set[str] = set(self.plan.cluster.switchover_volumes)
        for job in self.plan.jobs.values():
            values = [*job.include, *job.exclude, job.target or ""]
            if job.ntbackup is not None:
                values.append(job.ntbackup.file or "")
            found |= {v[:2] for v in values if re.match(r"^[A-Za-z]:", v)}
        return {v[0].upper() for v in found} - {"C"}


def _alerts(plan: Plan, node: str, kind: alerts.AlertKind, job: str, log: str) -> list[Command]:
    text = alerts.message(kind, job, node, log)
    return list(alerts.alert_commands(kind, text, plan.node(node).os, field=None))


def node_case(plan: Plan, node: str) -> NodeCase:
    """The files, schedule entries and expectations of ``node``."""
    n = plan.node(node)
    platform = get_platform(n.os)
    art = render_node(plan, n)
    case = NodeCase(plan, n.name, art)
    run = failover_run(plan, n)
    by_path = {f.path: f for f in art.files}
    for name, job in plan.jobs.items():
        selection = selection_path(plan, name) if platform.backup_tool == "ntbackup" else None
        daily = platform.backup_commands(name, job, node=n.name, selection=selection)
        # WSB-3: after the backup (and on a JOB-3 exit) the script records the share's versions
        record = versions_record(plan, n, name)
        after = [record] if record is not None else []
        path = job_script_path(plan, name)
        entry = next((s for s in art.schedules if s.job == name and s.kind == "daily"), None)
        case.scripts.append(
            Script(
                by_path[path],
                entry.run if entry is not None else run_batch(path),
                [*daily, *after],
                guarded=job.scope == "switchover" and bool(plan.cluster.switchover_volumes),
                log=log_path(plan, name),
                schedule=entry,
                absent=after,
                alerts=_alerts(plan, n.name, alerts.BACKUP_FAILED, name, log_path(plan, name)),
            )
        )
        if run is not None and run.job == name and run.own_script:
            case.scripts.append(
                Script(
                    by_path[run.batch],
                    run_batch(run.batch),
                    [*run.commands, *after],
                    log=log_path(plan, name),
                    alerts=_alerts(plan, n.name, alerts.FAILOVER_RUN_FAILED, name, log_path(plan, name)),
                )
            )
    if run is not None:
        fb = plan.failover_backup
        assert fb is not None
        fo_file = art.file("failover-script")
        if fb.at == "now":
            record = versions_record(plan, n, run.job)
            expected = [*run.commands, *([record] if record is not None else [])]
            via_call = True
            # the called job script raises its own failure (ALERT-1); failover.bat adds none
            kind = alerts.FAILOVER_RUN_FAILED if run.own_script else alerts.BACKUP_FAILED
            raised = _alerts(plan, n.name, kind, run.job, log_path(plan, run.job))
        else:
            entry = once_schedule(plan, n, run.job, fb.at, batch=run.batch)
            _program, _, tail = entry.command_line.partition(" ")
            raw = tail if entry.scheduler == "at" else None
            expected = [Command(entry.argv, n.os, raw_tail=raw)]
            if entry.scheduler == "at":
                # FO-2: failover.bat first reads at.exe's list for a pending one-shot of its own
                expected.insert(0, platform.at_query())
            via_call = False
            raised = _alerts(plan, n.name, alerts.FAILOVER_NOT_SCHEDULED, run.job, log_path(plan, "failover"))
        case.failover = Script(fo_file, run_batch(fo_file.path), expected, via_call=via_call, alerts=raised)
        case.fragment = art.file("start-fragment")
    return case


# -- the bytes Wine gets (W1) -------------------------------------------------------------------------


def wine_bytes(case: NodeCase, f: ArtifactFile) -> bytes:
    """``f``'s content as handed to Wine: W1's guard lines read ``"X:\\nul"`` instead of ``"X:\\"``.

    Only ``if not exist "<switchover volume>\\" goto`` lines are rewritten, and the judge asserts
    that every switchover volume's guard was found in a guarded script."""
    if f.role == "selection":
        return f.content
    data = f.content
    for vol in case.plan.cluster.switchover_volumes:
        old = f'\r\nif not exist "{vol}\\" goto '.encode("ascii")
        new = f'\r\nif not exist "{vol}\\nul" goto '.encode("ascii")
        data = data.replace(old, new)
    return data


def guard_count(case: NodeCase, f: ArtifactFile) -> int:
    """How many W1 rewrites :func:`wine_bytes` made in ``f``."""
    return wine_bytes(case, f).count(b'\\nul" goto ') - f.content.count(b'\\nul" goto ')


# -- comparing what arrived -------------------------------------------------------------------------


def started_by_start(rec: Record) -> bool:
    """W2: Wine's START rebuilt this command line (it starts with the quoted module path)."""
    return rec.command_line.startswith(f'"{rec.module}"')


#: What a batch file's failure branch runs (ALERT-1): after a launch that failed, these may follow.
ALERT_PROGRAMS = frozenset({"clplogcmd", "eventcreate"})


def w4_dropped(got: list[str], want: list[str]) -> bool:
    """W4's signature: Wine ran ``want`` in order except one or more programs that left no record —
    START said "File not found.", or cmd.exe's own CreateProcess failed under load (then the line
    fails, and the file's failure branch may raise ALERT-1) — so after the last program that agrees
    only ALERT-1's programs may follow. Anything else (a program not expected, another order) is a
    disagreement and is not run again. A run with the signature is run once more and that run must
    agree: a failure that repeats is never hidden, so a real difference still fails the judge."""
    if got == want:
        return False
    i = 0
    for program in want:
        if i < len(got) and got[i] == program:
            i += 1
    return i < len(want) and all(p in ALERT_PROGRAMS for p in got[i:])


def _wait_for_expected(prefix: WinePrefix, log: str, count: int, seconds: float) -> tuple[Record, ...]:
    """The records of ``log`` once ``count`` of them are checked programs: the NT-1 pause (ping)
    writes a record too, so counting every record could stop at rsm + ping while ntbackup is still
    starting (seen in CI: "programs run ['rsm'], expected ['rsm', 'ntbackup']")."""
    end = time.monotonic() + seconds
    got = prefix.wait_for_records(log, count, seconds=seconds)
    while sum(r.program not in UNCHECKED for r in got) < count and time.monotonic() < end:
        got = prefix.wait_for_records(log, len(got) + 1, seconds=max(0.0, end - time.monotonic()))
    return got


def compare(records: tuple[Record, ...] | list[Record], expected: list[Command]) -> list[str]:
    """Differences between what the programs received and the platform's Commands (empty: none).

    ``ping`` (the NT-1 pause) is not a platform Command and is left out of the comparison."""
    got = [r for r in records if r.program not in UNCHECKED]
    problems: list[str] = []
    if [r.program for r in got] != [c.program.lower() for c in expected]:
        return [f"programs run {[r.program for r in got]}, expected {[c.program for c in expected]}"]
    for rec, cmd in zip(got, expected, strict=False):
        if list(rec.argv[1:]) != list(cmd.argv[1:]):
            problems.append(
                f"{cmd.program} received argv {list(rec.argv[1:])}, expected {list(cmd.argv[1:])}"
            )
        if cmd.raw_tail is not None and rec.tail != cmd.raw_tail and not started_by_start(rec):
            problems.append(f"{cmd.program} received the line {rec.tail!r}, expected {cmd.raw_tail!r}")
    return problems


def tool_env(expected: list[Command], rc: int) -> dict[str, str]:
    """The recorder settings that make every expected program exit with ``rc``."""
    return {f"CLPREC_RC_{c.program.upper()}": str(rc) for c in expected}


def wine_rc(script: Script, rc: int) -> int:
    """The exit code Wine's cmd.exe gives ``script`` when its last tool exits ``rc`` (W3)."""
    return 1 if script.via_call and rc != 0 else rc


# -- running one node under Wine ----------------------------------------------------------------------

#: How long the start fragment may take on FAILOVER; its started tools hold until released, so a
#: fragment that waited for them would not return at all.
FRAGMENT_MS = 30000


@dataclass
class Verdict:
    """What the judge found on one node: problems (empty: all agreed) and what it judged."""

    node: str
    problems: list[str] = field(default_factory=list)
    files: int = 0  # distinct files judged
    runs: int = 0  # command lines run through the launcher
    retries: list[str] = field(default_factory=list)  # W4 retries taken

    def fail(self, what: str, details: list[str]) -> None:
        self.problems += [f"{self.node}: {what}: {d}" for d in details]


def _check_run(v: Verdict, what: str, result: RunResult, expected: list[Command], rc: int) -> None:
    if result.retried:
        v.retries.append(f"{what}: CreateProcessW 1359, retried once")
    if result.rc is None:
        v.fail(what, [f"did not run (error {result.error}, timeout {result.timeout})"])
        return
    problems = compare(result.records, expected)
    if result.rc != rc:
        problems.append(f"exit code {result.rc}, expected {rc}")
    if problems:
        v.fail(what, problems)


def judge_node(prefix: WinePrefix, case: NodeCase) -> Verdict:
    """Run every file and command line of ``case`` under Wine and compare with the expectations."""
    v = Verdict(case.node)
    prefix.reset(case.letters)
    for f in case.art.files:
        prefix.write(f.path, wine_bytes(case, f))
    v.files = len(case.art.files)
    for s in case.scripts:
        if s.guarded:
            rewritten = guard_count(case, s.file)
            if rewritten != len(case.plan.cluster.switchover_volumes):
                v.fail(s.file.path, [f"{rewritten} JOB-3 guard lines found for W1, expected one per volume"])

    # -- A: every volume attached; each script with its tools succeeding, then failing
    steps: list[tuple[str, Step, list[Command], int]] = []
    scripts = [*case.scripts, *([case.failover] if case.failover else [])]
    for s in scripts:
        for rc in (0, TOOL_FAILURE_RC):
            steps.append(
                (
                    f"{s.file.path} via {s.run!r} (tools exit {rc})",
                    Step(s.run, tool_env(s.expected, rc)),
                    [*s.expected, *s.raised(rc)],
                    wine_rc(s, rc),
                )
            )
        # ALERT-1 on a node without CLUSTERPRO's clplogcmd: only the event log entry
        steps.append(
            (
                f"{s.file.path} via {s.run!r} (tools exit {TOOL_FAILURE_RC}, no clplogcmd on the Path)",
                Step(s.run, {**tool_env(s.expected, TOOL_FAILURE_RC), "PATH": PATH_WITHOUT_CLP}),
                [*s.expected, *s.raised(TOOL_FAILURE_RC, clplogcmd=False)],
                wine_rc(s, TOOL_FAILURE_RC),
            )
        )
    for entry in case.art.schedules:
        _prog, _, tail = entry.command_line.partition(" ")
        cmd = Command(entry.argv, case.art.os, raw_tail=tail if entry.scheduler == "at" else None)
        steps.append(
            (f"schedule {entry.name} created by {entry.command_line!r}", Step(entry.command_line), [cmd], 0)
        )
    if case.fragment is not None:
        steps.append(
            (
                f"{case.fragment.path} with CLP_EVENT=START",
                Step(run_batch(case.fragment.path), {"CLP_EVENT": "START"}),
                [],
                0,
            )
        )
    results = [r for _log, r in prefix.launch([s[1] for s in steps])]
    again = [
        i
        for i, ((_what, _step, expected, _rc), result) in enumerate(zip(steps, results, strict=True))
        if result.rc is not None
        and w4_dropped(
            [r.program for r in result.records if r.program not in UNCHECKED],
            [c.program.lower() for c in expected],
        )
    ]
    if again:
        for i, (_log, result) in zip(again, prefix.launch([steps[i][1] for i in again]), strict=True):
            v.retries.append(f"{steps[i][0]}: a program left no record; run again (W4)")
            results[i] = result
        v.runs += len(again)
    for (what, _step, expected, rc), result in zip(steps, results, strict=True):
        _check_run(v, what, result, expected, rc)
    v.runs += len(steps)
    for s in case.scripts:
        data = prefix.read(s.log) if s.log else None
        if s.log and (
            data is None or b"clpbackup-recorder: out" not in data or b"clpbackup-recorder: err" not in data
        ):
            v.fail(s.log, [f"the job log does not hold the tool's stdout and stderr: {data!r}"])

    # -- B: the switchover volumes taken away: the switchover jobs exit 303 (JOB-3), run no backup
    guarded = [s for s in case.scripts if s.guarded]
    if guarded:
        for vol in case.plan.cluster.switchover_volumes:
            prefix.detach(vol)
        for s in guarded:
            if s.log:
                prefix.unix(s.log).unlink(missing_ok=True)
        steps = [
            (
                f"{s.file.path} without {', '.join(case.plan.cluster.switchover_volumes)}",
                Step(s.run),
                s.absent,
                303,
            )
            for s in guarded
        ]
        for (what, _step, expected, rc), (_log, result) in zip(
            steps, prefix.launch([s[1] for s in steps]), strict=False
        ):
            _check_run(v, what, result, expected, rc)
        v.runs += len(steps)
        for s in guarded:
            data = prefix.read(s.log) if s.log else None
            if s.log and (data is None or not data.startswith(b"JOB-3")):
                v.fail(s.log, [f"no JOB-3 line in the job log without the partition: {data!r}"])
        for vol in case.plan.cluster.switchover_volumes:
            prefix.attach(vol)

    # -- C: the start fragment on FAILOVER starts failover.bat and returns at once (FO-1). The started
    #    tools hold until the judge releases them: the fragment can only return while they run.
    if case.fragment is not None and case.failover is not None:
        fo = case.failover
        what = f"{case.fragment.path} with CLP_EVENT=FAILOVER"
        want = [c.program.lower() for c in fo.expected]
        for attempt in (1, 2):
            release = f"{JUDGE_DIR}\\logs\\release-{prefix.seq + 1:05d}"
            env = {"CLP_EVENT": "FAILOVER", "CLPREC_HOLD": release, **tool_env(fo.expected, 0)}
            [(log, result)] = prefix.launch(
                [Step(run_batch(case.fragment.path), env, timeout_ms=FRAGMENT_MS)]
            )
            v.runs += 1
            prefix.wait_for_records(log, 1, seconds=20)  # the started script runs: release its tools
            prefix.write(release, b"")
            got = _wait_for_expected(prefix, log, len(fo.expected), seconds=20)
            problems = compare(got, fo.expected)
            ran = [r.program for r in got if r.program not in UNCHECKED]
            # W4: no record at all (START failed to start failover.bat) is the signature's case too
            if problems and attempt == 1 and not result.timeout and w4_dropped(ran, want):
                v.retries.append(f"{what} (the started failover script): a program left no record (W4)")
                prefix.wait_idle(1.0)
                continue
            break
        if result.timeout:
            v.fail(what, [f"did not return within {FRAGMENT_MS} ms: it waits for the failover backup (FO-1)"])
        elif result.rc != 0:
            v.fail(what, [f"exit code {result.rc}, expected 0"])
        if problems:
            v.fail(what + " (the started failover script)", problems)
        # let the detached run finish before the next node's files replace these
        prefix.wait_idle(1.0)
    return v
