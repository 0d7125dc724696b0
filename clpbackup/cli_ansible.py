"""``clpbackup ansible-path``: where the Ansible module ``clpbackup_cluster`` lives.

Registered in :mod:`clpbackup.cli`'s registry. The printed folder goes into ``ANSIBLE_LIBRARY``::

    export ANSIBLE_LIBRARY="$(clpbackup ansible-path)"
"""

from __future__ import annotations

import argparse
import shlex

from clpbackup.cli import EXIT_OK, _emit_json, subcommand


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--export",
        action="store_true",
        help="print a shell line that prepends the folder to ANSIBLE_LIBRARY instead of the bare folder",
    )


@subcommand(
    "ansible-path",
    "print the folder of the Ansible module clpbackup_cluster (for ANSIBLE_LIBRARY)",
    _configure,
)
def _ansible_path(args: argparse.Namespace) -> int:
    from clpbackup.ansible import module_dir

    folder = module_dir()
    if args.format == "json":
        _emit_json({"path": folder})
    elif args.export:
        print(f"export ANSIBLE_LIBRARY={shlex.quote(folder)}" + '"${ANSIBLE_LIBRARY:+:$ANSIBLE_LIBRARY}"')
    else:
        print(folder)
    return EXIT_OK
