#!/usr/bin/python
# Copyright: clpbackup developers
# MIT License (see the clpbackup package)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: backup_info
short_description: Where each node of an NEC CLUSTERPRO X cluster stands with its clpbackup backups
description:
  - Reads schedules, last runs, backup versions, the owner of the switchover partition and drift from
    the plan on both nodes, in parallel. Never changes anything.
  - Problems (missing schedules, drift, failed backups) are listed in RV(problems) with their rule IDs and
    do not fail the task; use C(failed_when) on RV(ok). A node that cannot be read fails the task, and
    RV(nodes) still holds the other node's result.
  - Like every C(_info) module it returns its data as the task's result (C(register) it), not as
    C(ansible_facts).
version_added: "0.1.0"
author:
  - clpbackup developers (@clpbackup)
options:
  node:
    description:
      - Read this node only (a node name of the plan).
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - clpbackup.cluster.common
  - clpbackup.cluster.common.attributes
attributes:
  check_mode:
    support: full
    details:
      - Only reads, with or without check mode.
  diff_mode:
    support: none
seealso:
  - module: clpbackup.cluster.backup_plan
  - module: clpbackup.cluster.backup_run
"""

EXAMPLES = r"""
- name: Where each node stands
  clpbackup.cluster.backup_info:
    plan: "{{ playbook_dir }}/plans/prod-db.yaml"
  delegate_to: localhost
  register: backup

- name: Fail when something needs attention
  ansible.builtin.assert:
    that: backup.ok
    fail_msg: "{{ backup.problems | join('; ') }}"
"""

RETURN = r"""
ok:
  description: True when no node failed and nothing needs attention (no problem on any node, no drift).
  returned: when the plan was read
  type: bool
  sample: true
nodes:
  description:
    - Per node of the plan, its status (C(owner), C(schedules), C(files), C(versions), C(problems), and
      C(events) - the failures the node's batch files raised in its Application event log, ALERT-1,
      newest first) or its error (C({ok - false, error - {type, message, node, rule}})).
  returned: when the plan was read
  type: dict
  sample:
    node-a: {node: node-a, kind: StatusResult, owner: true, ok: true, schedules: [], files: {}}
problems:
  description: Every problem as one line naming its rule ID and node.
  returned: when the plan was read
  type: list
  elements: str
  sample: ["[node-b] SCH-1: schedule clpbackup-local-daily is missing; run deploy"]
notes:
  description: Things to know that need no action now.
  returned: when the plan was read
  type: list
  elements: str
failed_nodes:
  description: The nodes that could not be read.
  returned: always
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

ARGUMENT_SPEC = dict(PLAN_OPTIONS, node={"type": "str"})


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    cb = open_cluster(module, "clpbackup.cluster.backup_info")
    run_on_cluster(module, cb, "status", lambda c: shared.run_status(module, c))


if __name__ == "__main__":
    main()
