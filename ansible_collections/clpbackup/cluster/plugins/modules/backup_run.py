#!/usr/bin/python
# Copyright: clpbackup developers
# MIT License (see the clpbackup package)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: backup_run
short_description: Run a clpbackup job now, or the one-shot backup after a failover or failback
description:
  - O(action=now) runs a job of the plan now through the node's scheduler and waits for it (a local job on
    both nodes or O(node), a switchover job on the owner of the switchover partition only).
  - O(action=failover) schedules the one-shot full backup of the switchover job on the new owner (FO-2),
    at O(at) or the plan's C(failover_backup.at); no second one-shot for the same event.
  - O(action=failback) runs the switchover backup once on the owner after a failback (FB-1), now or at O(at).
  - O(action=drill) runs the restore drill (DRILL-1) - each job's canary recovered from its newest backup
    into a scratch folder as SYSTEM and checked (O(job) or every job; a local job on both nodes or O(node),
    a switchover job on the owner only, RS-1). It fails unless every drill passed; on Windows Server 2003
    the verdict is always C(limited) (NTBackup has no command-line restore), so it fails there too.
  - Refused, with the reason and nothing started, when the owner of the switchover partition is unknown.
version_added: "0.1.0"
author:
  - clpbackup developers (@clpbackup)
options:
  action:
    description:
      - What to run.
    type: str
    choices: [now, failover, failback, drill]
    required: true
  job:
    description:
      - The job to run with O(action=now) (a job name of the plan); with O(action=drill) the one job to drill
        (default every job).
    type: str
  node:
    description:
      - With O(action=now), run a local job on this node only; with O(action=drill), drill on this node only
        (a switchover job on the standby is refused, RS-1).
    type: str
  at:
    description:
      - For O(action=failover) and O(action=failback) - V(HH:MM) or V(now). A time inside a daily backup
        window is refused (SCH-3).
    type: str
  replace:
    description:
      - For O(action=failover) and O(action=failback) - replace a different one-shot of the job that is still
        waiting to run on the owner (a failback and a failover one-shot share the task name). Without it
        such a task is refused and nothing is changed; with it the result's C(replaced) names what was
        replaced.
    type: bool
    default: false
  timeout:
    description:
      - With O(action=now), how many seconds to wait for the backup to finish; with O(action=drill), for each
        recovery (default there 3600).
    type: int
    default: 21600
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - clpbackup.cluster.common
  - clpbackup.cluster.common.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads both nodes and says what would run or be scheduled, and where; starts nothing. With
        O(action=drill) the result's C(nodes) list each drill's exact commands.
  diff_mode:
    support: partial
    details:
      - O(action=failover) and O(action=failback) show the one-shot that is scheduled or started.
seealso:
  - module: clpbackup.cluster.backup_plan
  - module: clpbackup.cluster.backup_info
"""

EXAMPLES = r"""
- name: Run the daily local job now on both nodes
  clpbackup.cluster.backup_run:
    plan: "{{ playbook_dir }}/plans/prod-db.yaml"
    action: now
    job: local-daily
  delegate_to: localhost

- name: After a failover, schedule the full switchover backup on the new owner (FO-2)
  clpbackup.cluster.backup_run:
    plan: "{{ playbook_dir }}/plans/prod-db.yaml"
    action: failover
    at: "06:00"
  delegate_to: localhost

- name: Prove the newest backups read back (DRILL-1)
  clpbackup.cluster.backup_run:
    plan: "{{ playbook_dir }}/plans/prod-db.yaml"
    action: drill
  delegate_to: localhost

- name: After failback, back up the switchover partition once, now (FB-1)
  clpbackup.cluster.backup_run:
    plan: "{{ playbook_dir }}/plans/prod-db.yaml"
    action: failback
  delegate_to: localhost
"""

RETURN = r"""
operation:
  description: The clpbackup operation (C(run), C(failover-backup), C(failback-backup), C(drill)).
  returned: when the plan was read
  type: str
  sample: failover-backup
nodes:
  description:
    - Per node, what happened there - C(outcome), C(version), C(log_path) for O(action=now); C(job), C(at),
      C(action) for a one-shot; C(drills) (each with C(job), C(verdict), C(version), C(machine),
      C(recovery_point), C(age_minutes), C(seconds), C(message), C(commands)) for O(action=drill) - or its
      error.
  returned: when the plan was read
  type: dict
failed_nodes:
  description: The nodes that failed.
  returned: always
  type: list
  elements: str
would_run_on:
  description: In check mode with O(action=now), the nodes the job would start on.
  returned: in check mode with O(action=now)
  type: list
  elements: str
findings:
  description: The rule findings when the plan breaks a rule (the task fails and nothing is done on any node).
  returned: when the plan breaks a rule
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.clpbackup.cluster.plugins.module_utils.clpbackup_common import (
    PLAN_OPTIONS,
    open_cluster,
    run_on_cluster,
    shared,
)

ARGUMENT_SPEC = dict(
    PLAN_OPTIONS,
    action={"type": "str", "choices": ["now", "failover", "failback", "drill"], "required": True},
    job={"type": "str"},
    node={"type": "str"},
    at={"type": "str"},
    replace={"type": "bool", "default": False},
    timeout={"type": "int", "default": 21600},
)

# A finished run that did what the plan expects (an expected failure is one the plan names, e.g. an
# empty source that wbadmin refuses).
GOOD_OUTCOMES = ("success", "expected-failure")


def would_run(module, cb):
    """Check mode for action=now: the nodes the job would start on, from a read-only status."""
    from clpbackup.errors import PlanError

    job, node = module.params["job"], module.params["node"]
    if job not in cb.plan.jobs:
        raise PlanError(f"no job named {job!r}; the plan's jobs are {', '.join(cb.plan.jobs)}", field="job")
    names = shared.names_of(cb)
    result = cb.status()
    data = shared.result_json(result, names)
    if result.failed:
        module.fail_json(msg=shared.failure_message(result, names), **data)
    targets = [node] if node else names
    if cb.plan.jobs[job].scope == "switchover":
        owners = [n for n, r in result.succeeded.items() if r.owner]
        if len(owners) != 1:
            module.fail_json(
                msg=f"JOB-5/RS-1: owner of the switchover partition unknown, {job} would not start", **data
            )
        if node is not None and owners[0] != node:
            module.fail_json(
                msg=f"{node} does not own the switchover partition ({owners[0]} does) (JOB-3)", **data
            )
        targets = owners
    data.update(
        changed=True,
        would_run_on=targets,
        msg=f"run --check: {job} would start on {', '.join(targets)}",
    )
    module.exit_json(**data)


def run_now(module, cb):
    if module.check_mode:
        would_run(module, cb)
    names = shared.names_of(cb)
    result = cb.run_backup(module.params["job"], module.params["node"], timeout=module.params["timeout"])
    data = shared.result_json(result, names)
    data["changed"] = bool(result.succeeded)
    if result.failed:
        module.fail_json(msg=shared.failure_message(result, names), **data)
    bad = [r.summary() for r in result.succeeded.values() if r.outcome not in GOOD_OUTCOMES]
    if bad:
        module.fail_json(msg="run: " + "; ".join(bad), **data)
    data["msg"] = "run: " + "; ".join(shared.summaries(result, names))
    module.exit_json(**data)


def drill(module, cb):
    """DRILL-1: every drill must pass (check mode: would run); limited (2003), refused or failed fail."""
    names = shared.names_of(cb)
    timeout = module.params["timeout"] if module.params["timeout"] != 21600 else 3600
    result = cb.drill(job=module.params["job"], node=module.params["node"], check=module.check_mode,
                      timeout=timeout)
    data = shared.result_json(result, names)
    data["changed"] = bool(result.changed)
    if result.failed:
        module.fail_json(msg=shared.failure_message(result, names), **data)
    lines = [d.line() for r in result.succeeded.values() for d in r.drills]
    if not result.ok:
        module.fail_json(msg=result.operation + ": " + "; ".join(lines), **data)
    data["msg"] = result.operation + ": " + "; ".join(lines)
    module.exit_json(**data)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        required_if=[("action", "now", ("job",))],
    )
    params = module.params
    action = params["action"]
    if action not in ("now", "drill") and (params["job"] is not None or params["node"] is not None):
        module.fail_json(
            msg=f"job and node are only for action=now: the one-shot backup after a {action} always goes "
            "to the owner of the switchover partition (FO-2, FB-1)",
            failed_nodes=[],
        )
    if action in ("now", "drill") and params["at"] is not None:
        module.fail_json(msg="at is only for action=failover and action=failback", failed_nodes=[])
    cb = open_cluster(module, "clpbackup.cluster.backup_run")
    if action == "now":
        run_on_cluster(module, cb, "run", lambda c: run_now(module, c))
    if action == "drill":
        run_on_cluster(module, cb, "drill", lambda c: drill(module, c))
    state = "failover_backup" if action == "failover" else "failback_backup"
    run_on_cluster(module, cb, state, lambda c: shared.run_one_shot(module, c, state))


if __name__ == "__main__":
    main()
