# Copyright: clpbackup developers
# MIT License (see the clpbackup package)
"""What the modules of clpbackup.cluster share: the library check, the plan, the open cluster.

The work itself is clpbackup's. The helpers that turn clpbackup's results into Ansible results (plan
loading, the password, result JSON, diffs, failure messages) live in the clpbackup package, in the
standalone module ``clpbackup.ansible.clpbackup_cluster``, and are imported from there, so the
collection and the standalone module cannot drift apart.
"""

from __future__ import annotations

import traceback
from importlib.util import find_spec

from ansible.module_utils.basic import missing_required_lib

try:
    from clpbackup.ansible import clpbackup_cluster as shared

    CLPBACKUP_IMPORT_ERROR = None
except ImportError:
    shared = None
    CLPBACKUP_IMPORT_ERROR = traceback.format_exc()

# The options every module takes, with the same meaning as in clpbackup_cluster. Documented once, by
# the doc fragment clpbackup.cluster.common (plugins/doc_fragments/common.py): change both together.
PLAN_OPTIONS = {
    "plan": {"type": "raw", "required": True},
    "password": {"type": "str", "no_log": True},
}


def require_libraries(module, name):
    """Fail the task naming the missing Python package (clpbackup, pypsrp or one of clpbackup's own)."""
    if CLPBACKUP_IMPORT_ERROR is not None:
        module.fail_json(
            msg=missing_required_lib(
                "clpbackup",
                reason=f"to run {name}; install it from a clpbackup checkout (pip install . there; it is "
                "not on PyPI) into the Python that runs the module on the controller",
            ),
            exception=CLPBACKUP_IMPORT_ERROR,
            failed_nodes=[],
        )
    if find_spec("pypsrp") is None:
        module.fail_json(
            msg=missing_required_lib(
                "pypsrp",
                reason="to reach the nodes over PowerShell Remoting (pip install clpbackup brings it)",
            ),
            failed_nodes=[],
        )
    try:
        import clpbackup.operations  # noqa: F401  (its dependencies: pydantic, tenacity ...)
    except ImportError as exc:
        module.fail_json(
            msg=missing_required_lib(exc.name or str(exc), reason="by clpbackup"),
            exception=traceback.format_exc(),
            failed_nodes=[],
        )


def open_cluster(module, name, install_features=False, fix_schedule_service=False):
    """The ClusterBackup for the module's plan and password; fails the task when the plan is unusable."""
    require_libraries(module, name)
    from clpbackup.errors import ClpBackupError, PlanError
    from clpbackup.operations import ClusterBackup

    plan = shared.with_password(module, shared.load_plan(module))
    try:
        return ClusterBackup(
            plan, install_features=install_features, fix_schedule_service=fix_schedule_service
        )
    except PlanError as exc:
        shared.fail_plan(module, exc, "the plan cannot be used")
    except ClpBackupError as exc:
        module.fail_json(msg=f"the plan cannot be rendered: {exc}", failed_nodes=[])
    raise SystemExit(1)  # not reached: fail_json exits


def run_on_cluster(module, cb, what, work):
    """Run ``work(cb)`` with the cluster's sessions open; errors raised before any per-node result
    existed fail the task with their rule ID."""
    from clpbackup.errors import ClpBackupError, PlanError

    try:
        with cb:
            work(cb)
    except PlanError as exc:  # a bad node or job name, no failover_backup section, SCH-3 ...
        shared.fail_plan(module, exc, f"{what} refused")
    except ClpBackupError as exc:
        module.fail_json(msg=f"{what} failed: {shared.error_label(exc)}: {exc}", failed_nodes=[])
