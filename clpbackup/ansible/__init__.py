"""The Ansible module ``clpbackup_cluster`` (a thin shell over :class:`clpbackup.ClusterBackup`).

The module file, ``clpbackup_cluster.py`` in this folder, is what Ansible runs; it is not imported
by clpbackup itself. Put this folder in Ansible's module search path::

    export ANSIBLE_LIBRARY="$(clpbackup ansible-path)"

and run the tasks on the controller (``hosts: localhost`` with ``connection: local``, or
``delegate_to: localhost``) with a Python that has clpbackup installed
(``ansible_python_interpreter``). See ``docs/ansible.md``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["MODULE_NAME", "module_dir", "module_path"]

#: The module's name in playbooks.
MODULE_NAME = "clpbackup_cluster"


def module_dir() -> str:
    """The folder to put in ``ANSIBLE_LIBRARY`` (it holds ``clpbackup_cluster.py``)."""
    return str(Path(__file__).resolve().parent)


def module_path() -> str:
    """The path of the module file itself."""
    return str(Path(module_dir()) / f"{MODULE_NAME}.py")
