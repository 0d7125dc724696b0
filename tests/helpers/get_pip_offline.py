"""Stands in for pip's get-pip.py when ansible-test bootstraps pip into its sanity virtual environments.

ansible-test downloads get-pip.py from ci-files.testing.ansible.com, which this machine cannot reach
(PyPI it can). This script takes the same arguments (``pip==X``, ``--no-setuptools``, ``--no-wheel``,
pip options): it installs the venv's bundled pip with ``ensurepip``, then the requested packages with
that pip from the package index.
"""

from __future__ import annotations

import subprocess
import sys

if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", *args], check=True)
