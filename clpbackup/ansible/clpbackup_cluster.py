#!/usr/bin/python
# Copyright: clpbackup developers
# MIT License (see the clpbackup package)
"""Ansible module ``clpbackup_cluster``: deploy and drive clpbackup's backups on a CLUSTERPRO pair.

This file is run by Ansible (AnsiballZ), not imported by clpbackup. It is a thin shell over
:class:`clpbackup.operations.ClusterBackup`; every decision about the nodes is made there. Ansible
starts one process per task, so clpbackup is imported only when the task runs (and pypsrp only when
a node is contacted).
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: clpbackup_cluster
short_description: Deploy and drive Windows standard backups on an NEC CLUSTERPRO X two-node cluster
description:
  - Deploys the backup jobs of a clpbackup plan (batch files and schedules, identical on both nodes,
    rule JOB-1) to the two Windows nodes of a CLUSTERPRO X cluster over PowerShell Remoting, idempotently
    (IDEM-1).
  - Reports where each node stands (O(state=status)), schedules the one-shot full backup of the switchover
    partition after a failover (O(state=failover_backup), rule FO-2) or after a failback
    (O(state=failback_backup), rule FB-1).
  - Works on both nodes in parallel; the result holds each node's outcome (or its error) under RV(nodes),
    and one node failing never hides the other's result.
  - "The module runs on the controller (C(delegate_to: localhost) or a local play) with a Python that has
    clpbackup installed; the nodes are reached over WinRM by clpbackup itself, not by Ansible's connection."
version_added: "0.1.0"
author:
  - clpbackup developers
requirements:
  - python >= 3.10
  - clpbackup (C(pip install .) in a clpbackup checkout, or its wheel), which brings pypsrp
options:
  plan:
    description:
      - The clpbackup plan, as the path of a C(.yaml), C(.yml) or C(.json) plan file on the controller, or
        as the plan itself (a dictionary with C(cluster), C(nodes), C(connection), C(jobs) ...).
      - A relative path is taken from the module's working directory; prefer C({{ playbook_dir }}/plan.yaml).
      - The plan is checked against the operating rules first; a plan that breaks a rule fails the task
        and nothing is done on any node.
      - "The plan never holds a password; it names where the password comes from (C(password: {env: VAR}))."
    type: raw
    required: true
  state:
    description:
      - V(deployed) deploys the batch files and schedules to both nodes (or O(node)); running it twice
        changes nothing the second time.
      - V(status) reads schedules, last runs, versions, the switchover owner and drift; it never changes
        anything.
      - V(failover_backup) schedules the one-shot full switchover backup on the node that owns the
        switchover partition (FO-2), at O(at) or the plan's C(failover_backup.at).
      - V(failback_backup) runs the switchover backup once on the owner after a failback (FB-1), now or at
        O(at).
      - V(absent) uninstalls - removes exactly what clpbackup's record on each node lists and the node
        agrees on (files, tasks, AT jobs, the block in the start script; OWN-1), under the node lock
        (LOCK-1). Everything else stays. Supports check mode and diff.
    type: str
    choices: [deployed, status, failover_backup, failback_backup, absent]
    default: deployed
  node:
    description:
      - Work on this node only (a node name of the plan). Only with O(state=deployed) and O(state=status);
        failover and failback backups always go to the owner of the switchover partition.
    type: str
  at:
    description:
      - For O(state=failover_backup) and O(state=failback_backup) - V(HH:MM) or V(now).
      - Default - the plan's C(failover_backup.at) for a failover backup, V(now) for a failback backup.
      - A time inside a daily backup window is refused (SCH-3).
    type: str
  replace:
    description:
      - For O(state=failover_backup) and O(state=failback_backup) - replace a different one-shot of the job
        that is still waiting to run on the owner (a failback and a failover one-shot share the task name).
        Without it such a task is refused and nothing is changed; with it the result's C(replaced) names
        what was replaced.
    type: bool
    default: false
  install_features:
    description:
      - Let V(deployed) install Windows Server Backup on a 2008+ node that lacks it (OS-3). Without it such a
        node fails with the command to run.
    type: bool
    default: false
  fix_schedule_service:
    description:
      - Let V(deployed) set the Schedule service to Automatic and start it on a node whose AT jobs need it
        (SCH-4). Without it such a node fails with the command to run.
    type: bool
    default: false
  password:
    description:
      - The WinRM password for every node, in place of the plan's password source (environment variable
        or prompt). Never logged (C(no_log)); take it from Ansible Vault.
      - Without it the password comes from the environment variable the plan names, as seen by the module
        process on the controller (export it before running C(ansible-playbook)). Do not pass it with the
        task's C(environment) keyword; Ansible shows that on the command line it logs at C(-vvv).
      - "A plan that says C(password: {prompt: true}) needs this option (a module cannot prompt)."
    type: str
extends_documentation_fragment:
  - action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - V(deployed) and V(absent) compute the exact change on every node and write nothing.
      - V(status) only reads, with or without check mode.
      - V(failover_backup) and V(failback_backup) read both nodes, decide the owner and what would be
        scheduled there (nothing when the same one-shot already exists) and change nothing; RV(changed)
        says whether the real run would change.
  diff_mode:
    support: full
    details:
      - One diff per changed item and node (file, schedule, start-script block); a file's new content is
        shown in full. For a file that exists and differs, clpbackup knows only its hash, not its content.
  platform:
    platforms: posix
    details: Runs on the controller; the targets are the Windows nodes named in the plan.
notes:
  - The rule IDs in messages (JOB-1, SCH-2, FO-2, OS-3 ...) are those of clpbackup's C(docs/rules.md).
  - The task fails when the plan cannot be read or breaks a rule, when any node fails (unreachable,
    refused credentials, a preflight check such as OS-3 or SCH-4, a command that failed), or when a
    failover or failback backup is refused because the owner of the switchover partition is unknown, or
    because another one-shot of the job is waiting to run there and O(replace) is not set.
    RV(nodes) still holds every node's result.
  - V(status) reports problems (missing schedules, drift, failed backups) in RV(problems) without
    failing; use C(failed_when) on RV(ok) to fail on them.
  - Put the module's folder in Ansible's search path - set E(ANSIBLE_LIBRARY) to the folder that
    C(clpbackup ansible-path) prints (C(clpbackup ansible-path --export) prints the shell line).
  - How to run it, with example playbooks - C(docs/ansible.md) and C(examples/ansible/) in clpbackup's
    sources.
"""

EXAMPLES = r"""
- name: Deploy the backup jobs to both nodes (idempotent)
  clpbackup_cluster:
    plan: "{{ playbook_dir }}/plans/prod-db.yaml"
    state: deployed
  delegate_to: localhost
  run_once: true

- name: Deploy with the password from Ansible Vault, installing Windows Server Backup where missing
  clpbackup_cluster:
    plan: "{{ playbook_dir }}/plans/prod-db.yaml"
    password: "{{ vault_clpbackup_password }}"
    install_features: true
  delegate_to: localhost

- name: The plan inline, read from a YAML file
  clpbackup_cluster:
    plan: "{{ lookup('ansible.builtin.file', 'plans/prod-db.yaml') | from_yaml }}"
    state: deployed
  delegate_to: localhost

- name: Where each node stands
  clpbackup_cluster:
    plan: "{{ playbook_dir }}/plans/prod-db.yaml"
    state: status
  delegate_to: localhost
  register: backup_status

- name: Fail when something needs attention
  ansible.builtin.assert:
    that: backup_status.ok
    fail_msg: "{{ backup_status.problems | join('; ') }}"

- name: After a failover, schedule the full switchover backup on the new owner (FO-2)
  clpbackup_cluster:
    plan: "{{ playbook_dir }}/plans/prod-db.yaml"
    state: failover_backup
    at: "06:00"
  delegate_to: localhost

- name: After failback, back up the switchover partition once, now (FB-1)
  clpbackup_cluster:
    plan: "{{ playbook_dir }}/plans/prod-db.yaml"
    state: failback_backup
  delegate_to: localhost

- name: Uninstall - remove exactly what clpbackup's record on each node lists (OWN-1)
  clpbackup_cluster:
    plan: "{{ playbook_dir }}/plans/prod-db.yaml"
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
operation:
  description: The clpbackup operation that ran (C(deploy), C(deploy --check), C(status), C(failover-backup),
    C(failback-backup)).
  returned: when the plan was read
  type: str
  sample: deploy
ok:
  description: True when no node failed and nothing needs attention (no problem on any node, no drift).
  returned: when the plan was read
  type: bool
  sample: true
nodes:
  description:
    - Per node of the plan, that node's result or its error. Present even when the task failed.
    - A result holds C(node), C(changed), C(ok), C(problems) and C(notes), and per operation
      C(changes) (deploy - kind, name, action, before, after), C(schedules), C(files), C(versions), C(owner)
      (status), C(job), C(at), C(action) (failover and failback backups).
    - An error is C({ok - false, error - {type, message, node, rule}}).
  returned: when the plan was read
  type: dict
  sample:
    node-a:
      node: node-a
      kind: DeployResult
      changed: true
      ok: true
      check: false
      changes:
        - {kind: file, name: 'C:\clpbackup\local-daily.bat', action: create, before: null, after: 3f1c...}
      problems: []
      notes: []
    node-b:
      ok: false
      error:
        type: ConnectionFailed
        message: "[node-b] cannot connect to 192.0.2.12:5985 ..."
        node: node-b
problems:
  description: Every problem as one line naming its rule ID and node (cluster-level ones first).
  returned: when the plan was read
  type: list
  elements: str
  sample: ["[node-b] SCH-1: schedule clpbackup-local-daily is missing; run deploy"]
notes:
  description: Things to know that need no action now (for example FO-1 when the plan names no start script).
  returned: when the plan was read
  type: list
  elements: str
failed_nodes:
  description: The nodes that failed.
  returned: always
  type: list
  elements: str
  sample: [node-b]
interrupted:
  description: True when the task was cancelled (Ctrl-C, SIGTERM) during the operation; no new request was
    started on any node after it, and C(msg) says per node what was written.
  returned: when the task was cancelled
  type: bool
findings:
  description: The rule findings when the plan breaks a rule (rule, severity, message, field, hint ...).
  returned: when the plan breaks a rule
  type: list
  elements: dict
diff:
  description: With C(--diff), one before/after entry per changed item and node.
  returned: in diff mode, when something changes
  type: list
  elements: dict
  sample:
    - before_header: "node-a: C:\\clpbackup\\local-daily.bat (absent)"
      after_header: "node-a: C:\\clpbackup\\local-daily.bat (clpbackup)"
      before: ""
      after: "@echo off\n..."
"""

import os
import signal
import threading
import traceback
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # type: ignore[import-untyped]

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.operations import ClusterBackup
    from clpbackup.plan import Plan
    from clpbackup.results import ClusterResult

# The guarded import: `clpbackup` itself is cheap (its names load lazily); pypsrp is only looked for
# here, and imported by clpbackup when a node is contacted.
try:
    import clpbackup  # noqa: F401

    CLPBACKUP_IMPORT_ERROR: str | None = None
except ImportError:
    CLPBACKUP_IMPORT_ERROR = traceback.format_exc()

STATES = ("deployed", "status", "failover_backup", "failback_backup", "absent")
ONE_SHOT = ("failover_backup", "failback_backup")

ARGUMENT_SPEC: dict[str, Any] = {
    "plan": {"type": "raw", "required": True},
    "state": {"type": "str", "choices": list(STATES), "default": "deployed"},
    "node": {"type": "str"},
    "at": {"type": "str"},
    "replace": {"type": "bool", "default": False},
    "install_features": {"type": "bool", "default": False},
    "fix_schedule_service": {"type": "bool", "default": False},
    "password": {"type": "str", "no_log": True},
}


# -- the plan -----------------------------------------------------------------------------------------


def load_plan(module: AnsibleModule) -> Plan:
    """The plan from the ``plan`` option (a file path or a dict); fails the task when it cannot be read."""
    from clpbackup.errors import PlanError
    from clpbackup.plan import Plan

    source = module.params["plan"]
    try:
        if isinstance(source, dict):
            return Plan.from_dict(source)
        if isinstance(source, str) and source.strip():
            return Plan.from_file(os.path.expanduser(source))
    except PlanError as exc:
        where = source if isinstance(source, str) else "the plan given inline"
        fail_plan(module, exc, f"{where}: cannot read the plan")
    module.fail_json(
        msg="plan must be the path of a plan file or the plan itself as a dictionary; "
        f"got {type(source).__name__}",
        failed_nodes=[],
    )
    raise SystemExit(1)  # not reached: fail_json exits


def fail_plan(module: AnsibleModule, exc: Exception, prefix: str) -> None:
    """Fail the task for a plan error, listing the broken rules (their IDs first) when there are any."""
    findings = list(getattr(exc, "findings", None) or [])
    if findings:
        errors = [f for f in findings if f.severity == "error"] or findings
        lines = "; ".join(f"{f.rule} {f.message}" + (f" [{f.where}]" if f.where else "") for f in errors)
        module.fail_json(
            msg=f"the plan breaks {len(errors)} rule(s); nothing was done on any node: {lines}",
            findings=[f.to_json() for f in findings],
            failed_nodes=[],
        )
    from clpbackup.cli import _describe_plan_error
    from clpbackup.errors import PlanError

    text = _describe_plan_error(exc) if isinstance(exc, PlanError) else str(exc)
    module.fail_json(msg=f"{prefix}: {text}", failed_nodes=[])


def with_password(module: AnsibleModule, plan: Plan) -> Plan:
    """Wire the password: the ``password`` option as a callback, or check the plan's own source.

    Whatever the source, the password is added to the module's no-log values, so Ansible masks it
    should any text ever carry it (defence in depth: clpbackup never puts it in a message).
    """
    from pydantic import SecretStr

    from clpbackup.plan import PasswordRef

    refs = [("connection.password", plan.connection.password)]
    refs += [
        (f"nodes[{n.name}].connection.password", n.connection.password)
        for n in plan.nodes
        if n.connection is not None
    ]
    given = module.params.get("password")
    if given is not None:
        secret = SecretStr(given)
        ref = PasswordRef(callback=lambda _node: secret)
        nodes = [
            n.model_copy(update={"connection": n.connection.model_copy(update={"password": ref})})
            if n.connection is not None and n.connection.password is not None
            else n
            for n in plan.nodes
        ]
        conn = plan.connection.model_copy(update={"password": ref})
        return plan.model_copy(update={"connection": conn, "nodes": nodes})
    for field, pref in refs:
        if pref is None:
            continue
        if pref.env is not None:
            value = os.environ.get(pref.env)
            if value is None:
                module.fail_json(
                    msg=f"{field}: the plan reads the password from the environment variable {pref.env}, "
                    "which the module does not see; export it on the controller before running "
                    "ansible-playbook, or give the module's password option (from Ansible Vault)",
                    failed_nodes=[],
                )
            if value:
                module.no_log_values.add(value)
        elif pref.prompt:
            module.fail_json(
                msg=f"{field}: the plan says the password is prompted for, and a module cannot prompt; "
                "give the module's password option (from Ansible Vault)",
                failed_nodes=[],
            )
    return plan


# -- results ------------------------------------------------------------------------------------------


def error_label(exc: Any) -> str:
    """The error's type, with its rule ID unless the message already starts with it."""
    rule = getattr(exc, "rule", None)
    message = getattr(exc, "message", str(exc))
    if rule and not str(message).startswith(rule):
        return f"{type(exc).__name__} [{rule}]"
    return type(exc).__name__


def in_order(result: ClusterResult[Any], names: list[str]) -> list[str]:
    """The result's nodes in the plan's order (the operations may fill the mapping in any order)."""
    return [n for n in names if n in result] + [n for n in result if n not in names]


def result_json(result: ClusterResult[Any], names: list[str]) -> dict[str, Any]:
    """``ClusterResult.to_json()`` with each error's rule ID (when it has one) and the failed nodes."""
    data = result.to_json()
    data["nodes"] = {n: data["nodes"][n] for n in in_order(result, names)}
    for node, exc in result.failed.items():
        rule = getattr(exc, "rule", None)
        if rule:
            data["nodes"][node].setdefault("error", {})["rule"] = rule
    data["failed_nodes"] = [n for n in in_order(result, names) if n in result.failed]
    return data


def summaries(result: ClusterResult[Any], names: list[str]) -> list[str]:
    """One line per node that returned a result, in the plan's order."""
    ok = result.succeeded
    return [ok[n].summary() for n in in_order(result, names) if n in ok]


def failure_message(result: ClusterResult[Any], names: list[str]) -> str:
    """Names every failed node with its error type and rule ID, how the other nodes fared, what to do."""
    failed = result.failed
    down = [n for n in in_order(result, names) if n in failed]
    parts = [f"{n}: {error_label(failed[n])}: {getattr(failed[n], 'message', failed[n])}" for n in down]
    text = f"{result.operation} failed on {', '.join(down)}: " + "; ".join(parts)
    others = summaries(result, names)
    if others:
        text += " | " + "; ".join(others)
    hints: list[str] = []
    for n in down:
        hint = getattr(failed[n], "hint", None)
        if hint and hint not in hints:
            hints.append(hint)
    if hints:
        text += " | what to do: " + "; ".join(hints)
    return text


def _lf(text: str) -> str:
    text = text.replace("\r\n", "\n")
    return text if not text or text.endswith("\n") else text + "\n"


def deploy_diffs(cb: ClusterBackup, result: ClusterResult[Any]) -> list[dict[str, str]]:
    """Ansible's diff list: one before/after entry per changed item (file, schedule, start script)."""
    out: list[dict[str, str]] = []
    ok = result.succeeded
    for node in in_order(result, names_of(cb)):
        if node not in ok:
            continue
        files = {f.path: f for f in cb.artifacts[node].files}
        for c in ok[node].diff:
            head = f"{node}: {c.kind} {c.name}"
            before, after = _lf(c.before or ""), _lf(c.after or "")
            if c.kind == "file":
                # Deploy compares hashes: the new content is known, the node's current content is not.
                art = files.get(c.name)
                after = _lf(art.text()) if art is not None and c.action != "delete" else ""
                before = (
                    f"(the content on the node differs; sha256 {c.before})\n"
                    if c.action == "update"
                    else f"(clpbackup's file; sha256 {c.before})\n"
                    if c.action == "delete"
                    else ""
                )
            out.append(
                {
                    "before_header": head + (" (absent)" if c.action == "create" else " (on the node)"),
                    "after_header": head + (" (deleted)" if c.action == "delete" else " (clpbackup)"),
                    "before": before,
                    "after": after,
                }
            )
    return out


def one_shot_diffs(cb: ClusterBackup, result: ClusterResult[Any]) -> list[dict[str, str]]:
    """One entry for the node where a one-shot backup was scheduled or started."""
    out = []
    ok = result.succeeded
    for node in in_order(result, names_of(cb)):
        res = ok.get(node)
        if res is not None and res.changed:
            head = f"{node}: one-shot backup of {res.job}"
            out.append({"before_header": head, "after_header": head, "before": "", "after": _lf(res.action)})
    return out


def names_of(cb: ClusterBackup) -> list[str]:
    return [n.name for n in cb.plan.nodes]


def warn_problems(module: AnsibleModule, result: ClusterResult[Any]) -> None:
    """Problems of the nodes that returned a result become Ansible warnings (errors are in msg)."""
    for p in result.all_problems():
        if p.node is None or p.node not in result.failed:
            module.warn(str(p))


# -- the states ---------------------------------------------------------------------------------------


def run_deployed(module: AnsibleModule, cb: ClusterBackup, *, absent: bool = False) -> None:
    names = names_of(cb)
    check = module.check_mode
    result = cb.deploy(check=check, node=module.params["node"], state="absent" if absent else "present")
    data = result_json(result, names)
    # In check mode ClusterResult.changed is already what *would* change (Ansible's convention).
    data["changed"] = result.changed
    if module._diff:
        data["diff"] = deploy_diffs(cb, result)
    warn_problems(module, result)
    if result.failed:
        module.fail_json(msg=failure_message(result, names), **data)
    data["msg"] = f"{result.operation}: " + "; ".join(summaries(result, names))
    module.exit_json(**data)


def run_status(module: AnsibleModule, cb: ClusterBackup) -> None:
    names = names_of(cb)
    result = cb.status(node=module.params["node"])
    data = result_json(result, names)
    data["changed"] = False
    if result.failed:
        module.fail_json(msg=failure_message(result, names), **data)
    problems = result.all_problems()
    listed = "; ".join(map(str, problems))
    data["msg"] = f"status: {len(problems)} problem(s): {listed}" if problems else "status: ok"
    module.exit_json(**data)


def run_one_shot(module: AnsibleModule, cb: ClusterBackup, state: str) -> None:
    """failover_backup / failback_backup; in check mode ClusterBackup reads the node, decides what it
    would schedule (nothing when the one-shot already exists) and changes nothing."""
    names = names_of(cb)
    rule = "FO-2" if state == "failover_backup" else "FB-1"
    at = module.params["at"]
    check = module.check_mode
    replace = bool(module.params["replace"])
    if state == "failover_backup":
        result = cb.failover_backup(at=at, check=check, replace=replace)
    else:
        result = cb.failback_backup(at=at, check=check, replace=replace)
    data = result_json(result, names)
    data["changed"] = result.changed  # in check mode: what would change
    if module._diff:
        data["diff"] = one_shot_diffs(cb, result)
    if result.failed:
        module.fail_json(msg=failure_message(result, names), **data)
    ok = result.succeeded
    refused = [n for n in names if n in ok and ok[n].action == "refused"]
    if refused or result.problems:
        reasons = "; ".join(str(p) for p in result.all_problems())
        module.fail_json(msg=f"{rule}: {result.operation} refused, nothing was started: {reasons}", **data)
    warn_problems(module, result)
    data["msg"] = f"{result.operation}: " + "; ".join(f"{n}: {ok[n].action}" for n in names if n in ok)
    module.exit_json(**data)


# -- main ---------------------------------------------------------------------------------------------


def run_module() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if CLPBACKUP_IMPORT_ERROR is not None:
        module.fail_json(
            msg=missing_required_lib(
                "clpbackup",
                reason="to run clpbackup_cluster; install it from a clpbackup checkout (pip install . there; "
                "it is not on PyPI)",
            ),
            exception=CLPBACKUP_IMPORT_ERROR,
            failed_nodes=[],
        )
    if find_spec("pypsrp") is None:
        module.fail_json(
            msg=missing_required_lib(
                "pypsrp",
                reason="to reach the nodes over PowerShell Remoting (installing clpbackup brings it)",
            ),
            failed_nodes=[],
        )
    params = module.params
    state = params["state"]
    if params["node"] is not None and state in ONE_SHOT:
        module.fail_json(
            msg=f"node is not accepted with state={state}: the one-shot backup always goes to the node that "
            "owns the switchover partition (FO-2, FB-1)",
            failed_nodes=[],
        )
    if params["at"] is not None and state not in ONE_SHOT:
        module.fail_json(
            msg=f"at is only for failover_backup and failback_backup, not state={state}", failed_nodes=[]
        )

    try:
        from clpbackup.errors import ClpBackupError, PlanError
        from clpbackup.operations import ClusterBackup
    except ImportError as exc:  # a dependency of clpbackup is missing (pydantic, tenacity ...)
        module.fail_json(
            msg=missing_required_lib(exc.name or str(exc), reason="by clpbackup"),
            exception=traceback.format_exc(),
            failed_nodes=[],
        )

    plan = with_password(module, load_plan(module))
    try:
        cb = ClusterBackup(
            plan,
            install_features=params["install_features"],
            fix_schedule_service=params["fix_schedule_service"],
        )
    except PlanError as exc:
        fail_plan(module, exc, "the plan cannot be used")
    except ClpBackupError as exc:
        module.fail_json(msg=f"the plan cannot be rendered: {exc}", failed_nodes=[])

    from clpbackup.operations import OperationInterrupted

    _interrupt_on_sigterm()
    try:
        with cb:
            if state in ("deployed", "absent"):
                run_deployed(module, cb, absent=state == "absent")
            elif state == "status":
                run_status(module, cb)
            else:
                run_one_shot(module, cb, state)
    except OperationInterrupted as exc:
        # A cancelled task (Ctrl-C, or the SIGTERM of a cancelled run): nothing new was started on
        # any node; say per node what was written.
        module.fail_json(
            msg=f"{state} interrupted; nothing more was started on any node: " + "; ".join(exc.lines()),
            interrupted=True,
            failed_nodes=sorted(n for n, v in exc.result.items() if isinstance(v, ClpBackupError)),
        )
    except KeyboardInterrupt:
        module.fail_json(msg=f"{state} interrupted", interrupted=True, failed_nodes=[])
    except PlanError as exc:  # a bad node name, a missing failover_backup section, SCH-3 ...
        fail_plan(module, exc, f"{state} refused")
    except ClpBackupError as exc:  # raised before any per-node result existed
        module.fail_json(msg=f"{state} failed: {error_label(exc)}: {exc}", failed_nodes=[])


def _interrupt_on_sigterm() -> None:
    """A cancelled task may end the module with SIGTERM: stop as on Ctrl-C (start nothing new)."""
    if threading.current_thread() is threading.main_thread():

        def interrupt(_signum: int, _frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupt)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
