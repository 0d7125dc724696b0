# Copyright: clpbackup developers
# MIT License (see the clpbackup package)
"""The documentation every module of clpbackup.cluster shares.

``DOCUMENTATION`` documents the options of ``PLAN_OPTIONS`` (the argument spec every module starts
from, in ``plugins/module_utils/clpbackup_common.py``) and what every module needs on the controller;
``ATTRIBUTES`` the attribute worded the same for every module. A module uses them with
``extends_documentation_fragment: [clpbackup.cluster.common, clpbackup.cluster.common.attributes]``
and documents only what is its own (``node`` too: it means something different in each module).
tests/e2e/test_ansible_collection.py checks, through ansible-doc, that each module's documented
options and its argument spec agree.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  plan:
    description:
      - The clpbackup plan, as the path of a C(.yaml), C(.yml) or C(.json) plan file on the controller, or
        as the plan itself (a dictionary with C(cluster), C(nodes), C(connection), C(jobs) ...).
      - The plan is checked against the operating rules first; a plan that breaks a rule fails the task
        and nothing is done on any node.
      - "The plan never holds a password; it names where the password comes from (C(password: {env: VAR}))."
    type: raw
    required: true
  password:
    description:
      - The WinRM password for every node, in place of the plan's password source. Never logged
        (C(no_log)); take it from Ansible Vault.
      - Without it the password comes from the environment variable the plan names, as seen by the module
        process on the controller (export it before running C(ansible-playbook)).
    type: str
requirements:
  - python >= 3.10
  - clpbackup, which brings pypsrp, on the controller (not on PyPI - C(pip install .) in a clpbackup checkout)
"""

    ATTRIBUTES = r"""
attributes:
  platform:
    platforms: posix
    details: Runs on the controller; the targets are the Windows nodes named in the plan.
"""
