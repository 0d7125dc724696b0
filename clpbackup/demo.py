"""``clpbackup demo``: the whole story on a simulated cluster, checked step by step.

Two simulated Windows nodes (:mod:`clpbackup.testing`) behind real WinRM endpoints on 127.0.0.1;
clpbackup talks to them through pypsrp exactly as it talks to production nodes. Each step says what
the guide expects and checks it; the demo exits 0 only when every step behaved as expected.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from clpbackup.platforms import get_platform

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.operations import ClusterBackup
    from clpbackup.plan import Plan
    from clpbackup.testing import SimulatedCluster

DEFAULT_PLAN = "ws2012-wsb.yaml"


def default_plan_path() -> Path:
    """The example plan shipped in the package (``clpbackup/examples/ws2012-wsb.yaml``)."""
    return Path(str(resources.files("clpbackup") / "examples" / DEFAULT_PLAN))


@dataclass
class Story:
    """Prints the steps and remembers which did not behave."""

    out: TextIO
    failures: list[str] = field(default_factory=list)
    step_no: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)

    def step(self, title: str) -> None:
        self.step_no += 1
        self.steps.append({"step": self.step_no, "title": title, "checks": []})
        print(f"\n{self.step_no}. {title}", file=self.out)

    def say(self, text: str) -> None:
        for line in text.splitlines():
            print(f"   {line}", file=self.out)

    def expect(self, ok: bool, what: str) -> bool:
        print(f"   [{'ok' if ok else 'FAILED'}] {what}", file=self.out)
        if self.steps:
            self.steps[-1]["checks"].append({"ok": ok, "what": what})
        if not ok:
            self.failures.append(f"step {self.step_no}: {what}")
        return ok


def _indent(result: Any) -> str:
    return "\n".join(line.strip() and f"  {line.strip()}" for line in repr(result).splitlines()[1:])


def run_demo(
    plan_path: str | Path | None = None, *, out: TextIO | None = None, json_out: TextIO | None = None
) -> int:
    """Tell the story on ``plan_path`` (default: the 2012 example); return the exit code.

    With ``json_out`` the story still goes to ``out`` and, at the end, one JSON document goes to
    ``json_out``: ``{"plan", "ok", "steps": [{"step", "title", "checks": [{"ok", "what"}]}],
    "failures"}`` (``clpbackup demo --format json``).
    """

    stream = out or sys.stdout
    story = Story(stream)
    path = Path(plan_path) if plan_path else default_plan_path()
    code = _tell(path, story)
    if json_out is not None:
        import json

        json_out.write(json.dumps(
            {"plan": str(path), "ok": code == 0, "steps": story.steps, "failures": story.failures},
            indent=2, ensure_ascii=False,
        ) + "\n")
    return code


def _tell(path: Path, story: Story) -> int:
    from clpbackup.errors import ClpBackupError, PlanError
    from clpbackup.plan import Plan

    stream = story.out
    try:
        plan = Plan.from_file(path)
    except PlanError as exc:
        print(f"cannot read the plan {path}: {exc}", file=stream)
        story.failures.append(f"cannot read the plan: {exc}")
        return 2
    _ensure_password(plan)
    print(
        f"clpbackup demo — plan {path.name}: cluster {plan.cluster.name}, "
        f"{plan.home_node.name} (home) and {plan.standby_node.name}, Windows Server "
        f"{plan.home_node.os}",
        file=stream,
    )
    try:
        _story(plan, story)
    except ClpBackupError as exc:
        story.expect(False, f"unexpected error: {exc}")
    if story.failures:
        print(f"\nThe demo found {len(story.failures)} problem(s):", file=stream)
        for f in story.failures:
            print(f"  - {f}", file=stream)
        return 1
    print("\nEvery step behaved as the guide prescribes.", file=stream)
    return 0


def _ensure_password(plan: Plan) -> None:
    """The simulated nodes accept the plan's own credentials; invent the password if none is set."""
    ref = plan.connection.password
    if ref is not None and ref.env and ref.env not in os.environ:
        os.environ[ref.env] = "demo-" + secrets.token_urlsafe(12)


def _story(plan: Plan, story: Story) -> None:
    from clpbackup.operations import ClusterBackup
    from clpbackup.testing import SimulatedCluster

    home, standby = plan.home_node.name, plan.standby_node.name
    story.step("validate: the plan against the guide's rules")
    findings = plan.findings()
    errors = [f for f in findings if f.severity == "error"]
    story.say(
        f"{len(findings)} finding(s): {len(errors)} error(s), "
        f"{sum(f.severity == 'warning' for f in findings)} warning(s), "
        f"{sum(f.severity == 'info' for f in findings)} note(s)"
    )
    if not story.expect(not errors, "no rule is broken"):
        return

    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan, poll_initial=0.05) as cb:
        for n in plan.nodes:
            h, p = sim.endpoint(n.name)
            story.say(f"simulated {n.name}: WinRM on http://{h}:{p}/wsman (Windows Server {n.os})")
        _deploy_steps(plan, story, sim, cb)
        _day_steps(plan, story, sim, cb, home, standby)
        _weekly_drill_steps(plan, story, sim, cb)
        _failover_steps(plan, story, sim, cb, home, standby)
        story.expect(not sim.not_simulated, "the simulated nodes were asked nothing they do not model")


def _deploy_steps(plan: Plan, story: Story, sim: SimulatedCluster, cb: ClusterBackup) -> None:
    from clpbackup.results import DeployResult

    story.step("deploy --check: what would change, changing nothing (JOB-1: the same jobs on both nodes)")
    before = {n.name: (sorted(sim.node(n.name).tasks), len(sim.node(n.name).at_jobs)) for n in plan.nodes}
    check = cb.deploy(check=True)
    story.say(_indent(check))
    first_node = plan.nodes[0].name
    value = check[first_node]
    if isinstance(value, DeployResult):
        story.say(f"{first_node} would get:")
        for c in value.diff:
            story.say(f"  {c.action} {c.kind} {c.name}")
    untouched = all(
        (sorted(sim.node(n).tasks), len(sim.node(n).at_jobs)) == before[n]
        and not sim.node(n).files.exists(plan.scripts_dir)
        for n in before
    )
    # check mode's `changed` is what would change (Ansible's convention): true here, yet nothing written
    story.expect(check.ok and check.changed and untouched, "a diff for both nodes, nothing written")

    story.step("deploy: batch files and schedules on both nodes over PowerShell Remoting")
    first = cb.deploy()
    story.say(_indent(first))
    story.expect(first.ok and first.changed, "both nodes changed")

    story.step("deploy again: idempotent (IDEM-1)")
    second = cb.deploy()
    story.say(_indent(second))
    story.expect(second.ok and not second.changed, "no change the second time")

    story.step("status: schedules, Schedule service, owner of the switchover partition")
    status = cb.status()
    story.say(_indent(status))
    story.expect(status.ok, "everything in place")


def _day_steps(
    plan: Plan, story: Story, sim: SimulatedCluster, cb: ClusterBackup, home: str, standby: str
) -> None:
    from clpbackup.results import StatusResult

    story.step("a day passes: the daily backups run on both nodes")
    ran = sim.advance(hours=24)
    story.say(f"{len(ran)} scheduled run(s): " + ", ".join(ran[:6]) + (" …" if len(ran) > 6 else ""))
    status = cb.status()
    story.say(_indent(status))
    sb = status[standby]
    hm = status[home]
    job3 = isinstance(sb, StatusResult) and any("JOB-3" in s.verdict for s in sb.schedules)
    story.expect(status.ok, "no problem on either node")
    if plan.switchover_jobs():
        story.expect(job3, f"{standby}'s switchover job failed as expected: partition not attached (JOB-3)")
    story.expect(
        isinstance(hm, StatusResult) and all(v for v in hm.versions.values()),
        f"{home} has a backup of every job",
    )


def _weekly_drill_steps(plan: Plan, story: Story, sim: SimulatedCluster, cb: ClusterBackup) -> None:
    """DRILL-2, when the plan has the ``drill`` option: the clock runs past the drill's day and slots;
    status shows each drilled job's verdict [weekly task], and on a node without the switchover
    partition no verdict for a switchover job (RS-1: that node leaves the drill to the owner)."""
    from clpbackup import render
    from clpbackup.plan import WEEKDAYS, format_hhmm, parse_hhmm
    from clpbackup.results import StatusResult
    from clpbackup.rules import DRILL_SLOT_MINUTES, weekly_drill_starts

    starts = weekly_drill_starts(plan)
    if plan.drill is None or not starts:
        return
    day = plan.drill.weekly.day
    slots = ", ".join(f"{job} at {at}" for job, at in starts.items())
    story.step(f"the week goes on to {day}: the weekly drill (DRILL-2) runs on both nodes as its own task")
    story.say(f"{day}: {slots} ({DRILL_SLOT_MINUTES} min each, the same on both nodes: JOB-1)")
    clock = sim.node(plan.home_node.name).model.time
    now = clock.to_local(sim.clock.now()).replace(second=0, microsecond=0)
    first = parse_hhmm(plan.drill.weekly.at)
    due = now.replace(hour=first // 60, minute=first % 60) + timedelta(
        days=(WEEKDAYS.index(day) - now.weekday()) % 7
    )
    due = due if due > now else due + timedelta(days=7)
    # past the last job's slot: every drill has run, each in its own 15 minutes
    end = due + timedelta(minutes=max(parse_hhmm(a) for a in starts.values()) - first + DRILL_SLOT_MINUTES)
    ran = sim.advance(minutes=int((end - now).total_seconds() // 60))
    story.say(
        f"the clock runs to {end:%a %Y-%m-%d} {format_hhmm(end.hour * 60 + end.minute)}: "
        f"{len(ran)} scheduled run(s), the week's daily backups and the drills"
    )
    status = cb.status()
    story.expect(status.ok, "no problem on either node")
    owner = sim.owner
    for n in plan.nodes:
        value = status[n.name]
        if not isinstance(value, StatusResult):
            story.expect(False, f"{n.name}: status answered: {value}")
            continue
        for job in starts:
            task = next((s for s in value.schedules if s.kind == "weekly" and s.job == job), None)
            ran_at = task.last_run if task is not None else None
            story.say(f"{n.name}: weekly task of {job}: last run {ran_at}, exit code "
                      f"{task.last_result if task is not None else None}")
            ran_ok = task is not None and ran_at is not None and task.last_result == 0
            if plan.jobs[job].scope == "switchover" and n.name != owner:
                files = sim.node(n.name).files
                path = render.weekly_drill_log_path(plan, job)
                log = files.read_text(path) if files.exists(path) else ""
                rs1 = next((line for line in log.splitlines() if line.startswith("RS-1:")), "")
                story.say(f"{n.name}: {job}: {rs1 or 'no RS-1 line in its log'}")
                story.expect(
                    ran_ok and job not in value.drills and bool(rs1),
                    f"{n.name} ran the task but wrote no verdict for {job}: it does not own the switchover "
                    "partition, the owner drills it (RS-1)",
                )
                continue
            last = value.drills.get(job, "no verdict")
            newest = value.versions.get(job)
            story.say(f"{n.name}: {job}: {last}")
            story.expect(
                ran_ok and last.startswith("pass at ") and last.endswith("[weekly task]")
                and f"(version {newest} by {n.name})" in last,
                f"{n.name}: {job}'s canary came back from its newest version ({newest}): pass [weekly task]",
            )


def _failover_steps(
    plan: Plan, story: Story, sim: SimulatedCluster, cb: ClusterBackup, home: str, standby: str
) -> None:
    from clpbackup.results import StatusResult

    if not plan.switchover_jobs() or plan.failover_backup is None:
        return
    job = plan.failover_backup.job
    volume = plan.cluster.switchover_volumes[0]
    story.step(f"failover: {home} fails, CLUSTERPRO moves group {plan.cluster.failover_group} to {standby}")
    sim.failover()
    story.expect(
        sim.owner == standby and sim.node(standby).has_volume(volume), f"{volume} is attached on {standby}"
    )

    at = plan.failover_backup.at
    story.step(f"failover backup (FO-2): one full backup of {job} on the new owner, at {at}")
    clock = sim.node(standby).model.time
    now = clock.to_local(sim.clock.now()).replace(second=0, microsecond=0)
    result = cb.failover_backup()
    story.say(_indent(result))
    story.expect(result.ok, "scheduled on the owner only")
    # Up to just after the one-shot's own time: a set at or after it is the one-shot's run, not
    # an earlier daily run (FO-2; on 2003 AT deletes the one-shot once it has run).
    due = now
    if at != "now":
        due = now.replace(hour=int(at[:2]), minute=int(at[3:5]))
        due = due if due > now else due + timedelta(days=1)
    sim.advance(minutes=int((due - now).total_seconds() // 60) + 1)
    status = cb.status()
    new = status[standby]
    version = new.versions.get(job) if isinstance(new, StatusResult) else None
    story.say(f"{standby}: newest backup of {job}: {version}")
    when = _version_time(version, clock.to_local)
    story.expect(
        when is not None and when >= due,
        f"the failover backup ran on {standby} at {due:%Y-%m-%d %H:%M} "
        "(a set at or after the one-shot's time)",
    )

    story.step(f"restore source (RS-1): where to restore {volume} from")
    source = cb.restore_source(volume)
    story.say(repr(source))
    story.expect(source.ok and source.node == standby, f"{standby}, which took the newest full backup")

    story.step(f"restore drill (DRILL-1): each backup's canary read back on {standby}, checked, removed")
    drill = cb.drill(node=standby)
    story.say(_indent(drill))
    drilled = [d for r in drill.succeeded.values() for d in r.drills]
    if get_platform(plan.node(standby).os).backup_tool == "ntbackup":
        story.expect(
            bool(drilled) and all(d.verdict == "limited" for d in drilled),
            "limited, never a pass: NTBackup has no command-line restore (its log checked)",
        )
    else:
        story.expect(
            bool(drilled) and drill.ok and all(d.verdict == "pass" for d in drilled),
            f"every job's canary came back from its newest version on {standby}",
        )

    story.step(f"failback: the group returns to {home}; one switchover backup by hand (FB-1)")
    sim.failback()
    back = cb.failback_backup()
    story.say(_indent(back))
    sim.advance(minutes=1)
    status = cb.status()
    hm = status[home]
    story.expect(back.ok and back.changed and sim.owner == home, f"started once on {home}")
    story.expect(isinstance(hm, StatusResult) and hm.owner is True, f"{home} owns {volume} again")


def _version_time(version: str | None, to_local: Callable[[datetime], datetime]) -> datetime | None:
    """Node-local time of a newest-backup value: NTBackup's ``YYYY-MM-DD HH:MM`` (local) or a
    wbadmin version identifier ``MM/DD/YYYY-HH:MM`` (UTC)."""
    if not version:
        return None
    try:
        return datetime.strptime(version, "%Y-%m-%d %H:%M")
    except ValueError:
        pass
    try:
        return to_local(datetime.strptime(version, "%m/%d/%Y-%H:%M").replace(tzinfo=timezone.utc))
    except ValueError:
        return None


def main(
    argv: list[str] | None = None, progress: Callable[[str], None] | None = None
) -> int:  # pragma: no cover
    """Entry for ``python -m clpbackup.demo``."""
    return run_demo(argv[0] if argv else None)
