"""The differential check: the simulator's cmd.exe/batch model and Wine run the same files.

For one node of a plan, both judges get the same bytes (Wine with W1's guard rewrite, see
``judge.py``) and run the same command lines: every batch file by its run string with the switchover
volumes attached, then the switchover jobs' scripts without them, and every schedule entry's
``command_line``. The simulator's tools answer as the model does; each Wine recorder is then told to
exit with the code the simulator's tool of that name gave first, so both batch files see the same
tool results. They must agree on:

* the programs run and the argv each received (the simulator's history masks ``/P``, ``/RP`` and
  ``-password:`` values, SEC-1, so Wine's lines are masked the same way before the split);
* each run's exit code (Wine's W3 applied: ``call`` of a batch ending ``exit /b N`` gives 1);
* the files in the scripts' log folder afterwards, and the bytes of each JOB-3 log.

A disagreement is a bug in one of the two: ours is fixed, Wine's is pinned in test_divergences.py.
Wine's intermittent W4 (under load a program left no record: START's "File not found.", or cmd.exe's
own CreateProcess failing) is the one exception: a run showing exactly that signature
(:func:`tests.wine.judge.w4_dropped`) is run once more under Wine, the second run must agree, and the
retry is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clpbackup.plan import Plan
from clpbackup.render import log_dir
from clpbackup.testing import SimulatedCluster
from clpbackup.testing.model.node import SimulatedWindows, redact
from tests.helpers.argv import command_line_to_argv
from tests.wine.judge import NodeCase, Script, w4_dropped, wine_bytes, wine_rc
from tests.wine.wine import RECORDED, Record, Step, WinePrefix

#: Simulator history entries of the task's own process; only recorded programs are compared (cmd.exe
#: and find.exe are Wine's own on the other side).
_NOT_TOOLS = ("(task) ",)
#: The programs compared: the recorded tools, and CLUSTERPRO's clplogcmd (ALERT-1), whose recorder
#: lives in its own folder on the Path (wine.CLP_DIR) rather than among RECORDED.
_COMPARED = (*RECORDED, "clplogcmd")


@dataclass
class Differences:
    """What the two judges disagreed on for one node."""

    node: str
    items: list[str] = field(default_factory=list)
    runs: int = 0
    tools: int = 0  # program runs compared
    retries: list[str] = field(default_factory=list)  # W4 runs taken again

    def add(self, what: str, sim: object, wine: object) -> None:
        self.items.append(f"{self.node}: {what}: simulator {sim!r}, Wine {wine!r}")


def simulated_node(plan: Plan, node: str) -> SimulatedWindows:
    """The simulator's model of ``node`` (not started: no endpoint), holding the switchover volumes."""
    sim = SimulatedCluster.from_plan(plan)
    model = sim.node(node).model
    for letter, vol in sim.switchover_volumes.items():
        for other in sim.nodes:
            if other.model is not model and other.model.fs.has_volume(letter):
                other.model.fs.detach(letter)
        if not model.fs.has_volume(letter):
            model.fs.attach(vol)
    return model


def _sim_runs(model: SimulatedWindows, since: int) -> list[tuple[str, tuple[str, ...], int]]:
    out = []
    for r in model.history[since:]:
        if r.program.startswith(_NOT_TOOLS[0]) or r.program.lower() not in _COMPARED:
            continue
        argv = tuple(command_line_to_argv(r.program + " " + r.arguments))
        out.append((r.program.lower(), argv[1:], r.rc))
    return out


def _wine_runs(records: tuple[Record, ...]) -> list[tuple[str, tuple[str, ...]]]:
    return [(r.program, tuple(command_line_to_argv(r.program + " " + redact(r.tail)))[1:]) for r in records]


def _sim_logs(model: SimulatedWindows, folder: str) -> dict[str, bytes]:
    if not model.fs.is_dir(folder):
        return {}
    return {
        n.lower(): model.fs.read_bytes(folder + "\\" + n)
        for n in model.fs.listdir(folder)
        if model.fs.is_file(folder + "\\" + n)
    }


def _snapshot(prefix: WinePrefix, folder: str) -> dict[str, bytes]:
    """The files of Wine's ``folder`` by their names as on disk."""
    path = prefix.unix(folder)
    return {p.name: p.read_bytes() for p in path.iterdir() if p.is_file()} if path.is_dir() else {}


def _wine_logs(prefix: WinePrefix, folder: str) -> dict[str, bytes]:
    return {name.lower(): data for name, data in _snapshot(prefix, folder).items()}


def _restore(prefix: WinePrefix, folder: str, files: dict[str, bytes]) -> None:
    """Put Wine's ``folder`` back as :func:`_snapshot` saw it."""
    path = prefix.unix(folder)
    if path.is_dir():
        for p in path.iterdir():
            if p.is_file() and p.name not in files:
                p.unlink()
    for name, data in files.items():
        (path / name).write_bytes(data)


def differential_node(prefix: WinePrefix, case: NodeCase) -> Differences:
    """Run ``case`` in the simulator and under Wine; return where they disagree."""
    d = Differences(case.node)
    model = simulated_node(case.plan, case.node)
    prefix.reset(case.letters)
    for f in case.art.files:
        model.write_file(f.path, f.content)
        prefix.write(f.path, wine_bytes(case, f))
    logs = log_dir(case.plan)

    def phase(runs: list[tuple[str, Script | None]], check_logs: str | None) -> None:
        sims = []
        steps = []
        for line, script in runs:
            since = len(model.history)
            rc = model.run_scheduled(line)
            got = _sim_runs(model, since)
            sims.append((line, script, rc, got))
            first: dict[str, int] = {}
            for prog, _argv, prog_rc in got:
                first.setdefault(prog, prog_rc)
            steps.append(Step(line, {f"CLPREC_RC_{p.upper()}": str(v) for p, v in first.items()}))
        before = _snapshot(prefix, logs)
        results = [r for _log, r in prefix.launch(steps)]
        flaky = [
            line
            for (line, script, _rc, got), result in zip(sims, results, strict=True)
            if script is not None
            and w4_dropped([p for p, _a in _wine_runs(result.records)], [p for p, _a, _rc in got])
        ]
        if flaky:
            # the failed launch may have sent the file down its failure branch (alerts.log…): the
            # whole phase runs again from the log folder as it was, and that run must agree
            _restore(prefix, logs, before)
            results = [r for _log, r in prefix.launch(steps)]
            d.retries += [f"{line!r}: a program left no record; the phase run again (W4)" for line in flaky]
        for (line, script, rc, got), result in zip(sims, results, strict=True):
            d.runs += 1
            want_rc = wine_rc(script, rc) if script is not None else rc
            if result.rc != want_rc:
                d.add(f"exit code of {line!r}", rc, result.rc)
            sim_argv = [(p, a) for p, a, _rc in got]
            d.tools += len(sim_argv)
            if sim_argv != _wine_runs(result.records):
                d.add(f"programs and argv of {line!r}", sim_argv, _wine_runs(result.records))
        if check_logs is not None:
            s_logs, w_logs = _sim_logs(model, logs), _wine_logs(prefix, logs)
            if sorted(s_logs) != sorted(w_logs):
                d.add(f"files in {logs} ({check_logs})", sorted(s_logs), sorted(w_logs))

    scripts = [*case.scripts, *([case.failover] if case.failover is not None else [])]
    phase([(s.run, s) for s in scripts] + [(e.command_line, None) for e in case.art.schedules], "attached")
    guarded = [s for s in case.scripts if s.guarded]
    if guarded:
        for vol in case.plan.cluster.switchover_volumes:
            model.fs.detach(vol)
            prefix.detach(vol)
        phase([(s.run, s) for s in guarded], "without the switchover volumes")
        for s in guarded:
            assert s.log is not None
            sim_log = model.fs.read_bytes(s.log) if model.fs.is_file(s.log) else None
            if sim_log != prefix.read(s.log):
                d.add(f"the JOB-3 log {s.log}", sim_log, prefix.read(s.log))
    return d
