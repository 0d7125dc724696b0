"""Install as docs/getting-started.md says: a wheel built with ``python -m build``, in a fresh venv.

Slow (an isolated build, a virtual environment): CI runs it with ``-m slow``. The wheel is built
from a copy of the checkout (so nothing is left in it) and installed with ``--no-deps`` into a new
virtual environment that borrows the dependencies from the running one through a ``.pth`` line:
what is tested is the wheel — its files, its metadata, its console script — not PyPI.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
_SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
                               ".hypothesis")


def test_the_wheel_installs_and_its_console_script_runs(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=_SKIP, symlinks=True)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, timeout=900,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("clpbackup-*-py3-none-any.whl")

    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert {"clpbackup/cli_init.py", "clpbackup/cli_sim.py", "clpbackup/py.typed",
            "clpbackup/examples/ws2012-wsb.yaml"} <= names
    assert "Provides-Extra: notebook" in meta
    assert 'Requires-Dist: ipykernel>=6.29; extra == "notebook"' in meta
    assert not any('extra == "notebook"' in line and "pytest" in line for line in meta.splitlines())

    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    # The running environment's packages for the dependencies (not its editable clpbackup: a path
    # line does not run that environment's .pth hooks).
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert pip.returncode == 0, pip.stderr
    clp = env / "bin" / "clpbackup"
    version = subprocess.run([str(clp), "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("clpbackup "), version.stderr
    where = subprocess.run([str(python), "-c", "import clpbackup; print(clpbackup.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert where.stdout.startswith(site), where.stdout  # the wheel's copy, not the checkout
    check = subprocess.run([str(clp), "validate", str(ROOT / "examples" / "plans" / "ws2012-wsb.yaml")],
                           capture_output=True, text=True, cwd=tmp_path)
    assert check.returncode == 0 and ": valid — 0 errors" in check.stdout, check.stdout + check.stderr
    init = subprocess.run([str(clp), "init", "p.yaml", "--os", "2022"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert init.returncode == 0, init.stderr
