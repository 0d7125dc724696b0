#!/usr/bin/python
# Copyright: clpbackup developers
# MIT License (see the clpbackup package)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: backup_plan
short_description: Deploy or uninstall a clpbackup plan on an NEC CLUSTERPRO X two-node cluster
description:
  - Deploys the backup jobs of a clpbackup plan (batch files and schedules, identical on both nodes,
    rule JOB-1) to the two Windows nodes of a CLUSTERPRO X cluster over PowerShell Remoting, idempotently
    (IDEM-1), with O(state=present).
  - Uninstalls with O(state=absent) - removes exactly what clpbackup's record on each node lists and the
    node agrees on (OWN-1); everything else stays.
  - Works on both nodes in parallel; RV(nodes) holds each node's outcome or its error, and one node failing
    never hides the other's result.
  - "Runs on the controller (C(delegate_to: localhost) or a play with C(connection: local)) with a Python
    that has clpbackup installed; clpbackup reaches the nodes over WinRM itself, not Ansible's connection."
version_added: "0.1.0"
author:
  - clpbackup developers (@clpbackup)
options:
  state:
    description:
      - V(present) deploys the batch files and schedules; running it twice changes nothing the second time.
      - V(absent) removes what clpbackup deployed, as recorded on each node (OWN-1).
    type: str
    choices: [present, absent]
    default: present
  node:
    description:
      - Work on this node only (a node name of the plan).
    type: str
  install_features:
    description:
      - Let V(present) install Windows Server Backup on a 2008+ node that lacks it (OS-3). Without it such a
        node fails with the command to run.
    type: bool
    default: false
  fix_schedule_service:
    description:
      - Let V(present) set the Schedule service to Automatic and start it on a node whose AT jobs need it
        (SCH-4). Without it such a node fails with the command to run.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - clpbackup.cluster.common
  - clpbackup.cluster.common.attributes
attributes:
  check_mode:
    support: full
    details:
      - Computes the exact change on every node and writes nothing; C(changed) says whether the real run
        would change.
  diff_mode:
    support: full
    details:
      - One diff per changed item and node (file, schedule, start-script block); a file's new content is
        shown in full.
notes:
  - The rule IDs in messages (JOB-1, SCH-2, OS-3, OWN-1 ...) are those of clpbackup's C(docs/rules.md).
  - Supersedes the standalone module C(clpbackup_cluster) (O(state=present) is its V(deployed)).
seealso:
  - module: clpbackup.cluster.backup_info
  - module: clpbackup.cluster.backup_run
"""

EXAMPLES = r"""
- name: Deploy the backup jobs to both nodes (idempotent)
  clpbackup.cluster.backup_plan:
    plan: "{{ playbook_dir }}/plans/prod-db.yaml"
  delegate_to: localhost

- name: Deploy with the password from Ansible Vault, installing Windows Server Backup where missing
  clpbackup.cluster.backup_plan:
    plan: "{{ playbook_dir }}/plans/prod-db.yaml"
    password: "{{ vault_clpbackup_password }}"
    install_features: true
  delegate_to: localhost

- name: Uninstall what clpbackup deployed
  clpbackup.cluster.backup_plan:
    plan: "{{ playbook_dir }}/plans/prod-db.yaml"
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
operation:
  description: The clpbackup operation that ran (C(deploy) or C(deploy --check), and their uninstall forms).
  returned: when the plan was read
  type: str
  sample: deploy
ok:
  description: True when no node failed and nothing needs attention.
  returned: when the plan was read
  type: bool
  sample: true
nodes:
  description:
    - Per node of the plan, that node's result (C(node), C(changed), C(ok), C(changes), C(problems),
      C(notes)) or its error (C({ok - false, error - {type, message, node, rule}})).
  returned: when the plan was read
  type: dict
  sample:
    node-a: {node: node-a, kind: DeployResult, changed: true, ok: true, check: false, changes: []}
problems:
  description: Every problem as one line naming its rule ID and node.
  returned: when the plan was read
  type: list
  elements: str
notes:
  description: Things to know that need no action now (for example FO-1).
  returned: when the plan was read
  type: list
  elements: str
failed_nodes:
  description: The nodes that failed.
  returned: always
  type: list
  elements: str
  sample: [node-b]
findings:
  description: The rule findings when the plan breaks a rule.
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
    state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    node={"type": "str"},
    install_features={"type": "bool", "default": False},
    fix_schedule_service={"type": "bool", "default": False},
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    cb = open_cluster(
        module,
        "clpbackup.cluster.backup_plan",
        install_features=params["install_features"],
        fix_schedule_service=params["fix_schedule_service"],
    )
    if params["state"] == "absent":
        if "absent" not in shared.STATES:
            module.fail_json(
                msg="state=absent is not available in this version of clpbackup (it has no uninstall, "
                "deploy(state='absent')); nothing was done. Upgrade clpbackup on the controller.",
                failed_nodes=[],
            )
        run_on_cluster(module, cb, "uninstall", lambda c: shared.run_deployed(module, c, absent=True))
    run_on_cluster(module, cb, "deploy", lambda c: shared.run_deployed(module, c))


if __name__ == "__main__":
    main()
