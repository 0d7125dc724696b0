"""The example notebook runs top to bottom in a real Jupyter kernel against the simulator.

The notebook (``examples/notebooks/cluster-backup.ipynb``) is executed with nbclient in an ipykernel
started from this interpreter (a kernel spec written to a temporary ``JUPYTER_PATH``, so whatever
kernels the machine has installed do not matter). The checks read the rich outputs of the tagged
cells: the views a notebook user sees.

``python tests/e2e/test_notebook.py --write`` executes the notebook and stores its outputs in the
file (run it after changing the views, so the committed notebook shows current output).
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "notebooks" / "cluster-backup.ipynb"
KERNEL = "clpbackup-test-python"
PASSWORD = "simulator-only"


def _kernel_dir(base: Path) -> Path:
    """A kernel spec that starts ipykernel with this very interpreter."""
    spec = base / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "clpbackup test kernel",
        "language": "python",
    }), encoding="utf-8")
    return base


def execute(nb: Any, base: Path, env: dict[str, str] | None = None) -> Any:
    """Run every cell of ``nb`` (in place) in a fresh kernel; a cell error raises CellExecutionError."""
    from nbclient import NotebookClient

    old = {k: os.environ.get(k) for k in ("JUPYTER_PATH", *(env or {}))}
    os.environ["JUPYTER_PATH"] = str(_kernel_dir(base))
    os.environ.update(env or {})
    try:
        client = NotebookClient(
            nb, kernel_name=KERNEL, timeout=120, startup_timeout=60,
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        )
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def outputs(nb: Any) -> dict[str, dict[str, str]]:
    """Per cell tag, the MIME bundle of its result (``text/html``, ``text/markdown``, ``text/plain`` …)."""
    found: dict[str, dict[str, str]] = {}
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type != "code" or not tags:
            continue
        bundle: dict[str, str] = {}
        for out in cell.get("outputs", []):
            if out.get("output_type") in ("execute_result", "display_data"):
                for mime, value in out.get("data", {}).items():
                    bundle[mime] = "".join(value) if isinstance(value, list) else str(value)
            elif out.get("output_type") == "stream":
                bundle.setdefault(out["name"], "")
                bundle[out["name"]] += "".join(out["text"]) if isinstance(out["text"], list) else out["text"]
        found[tags[0]] = bundle
    return found


def _rows(md: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in md.splitlines():
        if line.startswith("| "):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            rows.setdefault(cells[0], cells)
    return rows


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    pytest.importorskip("nbclient", reason="the test extra installs nbclient, nbformat and ipykernel")
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    execute(nb, tmp_path_factory.mktemp("jupyter"), {"CLPBACKUP_PASSWORD": PASSWORD})
    return outputs(nb)


@pytest.mark.slow
@pytest.mark.e2e
def test_notebook_plan_views(executed: dict[str, dict[str, str]]) -> None:
    plan = executed["plan"]
    assert "text/html" in plan and "text/markdown" in plan
    assert "<svg" in plan["text/html"] and "SCH-2" in plan["text/html"]
    assert "SCH-2: starts 15 min after node-a's run ends" in plan["text/markdown"]
    assert "<svg" in executed["timeline"]["image/svg+xml"]
    assert "✔ no errors" in executed["findings"]["text/markdown"]
    render = executed["render"]["text/markdown"]
    assert "**node-b: Windows Server 2012, schtasks" in render and "04:15" in render


@pytest.mark.slow
@pytest.mark.e2e
def test_notebook_deploy_and_status(executed: dict[str, dict[str, str]]) -> None:
    check = _rows(executed["deploy-check"]["text/markdown"])
    assert check["`shared-daily`"][1:] == ["● would create 2", "● would create 2"]
    deploy = executed["deploy"]["text/markdown"]
    assert deploy.startswith("**deploy (changed)** ✔ ok")
    again = _rows(executed["deploy-again"]["text/markdown"])
    assert again["`local-daily`"][1:] == ["✔ unchanged · 2 item(s)"] * 2  # IDEM-1

    before = _rows(executed["status-before"]["text/markdown"])
    assert before["`node-a`"][2].startswith("✔ owner")
    assert "not run yet" in before["`shared-daily`"][1]

    day = _rows(executed["status-after-day"]["text/markdown"])
    assert "last run succeeded" in day["`shared-daily`"][1]  # node-a, the owner
    assert day["`shared-daily`"][2].startswith("○ matching")  # node-b: JOB-3, expected
    assert "expected: partition not attached (JOB-3)" in day["`shared-daily`"][2]
    assert "newest version" in day["`local-daily`"][1]


@pytest.mark.slow
@pytest.mark.e2e
def test_notebook_failover_and_restore(executed: dict[str, dict[str, str]]) -> None:
    fo = _rows(executed["failover-backup"]["text/markdown"])
    assert fo["`node-b`"][1].startswith("● started now")
    assert fo["`node-a`"][1] == "○ not the owner: nothing to do"
    after = _rows(executed["status-after-failover"]["text/markdown"])
    assert after["`node-b`"][2].startswith("✔ owner")
    assert after["`node-a`"][2].startswith("○ standby")
    assert "expected: partition not attached (JOB-3)" in after["`shared-daily`"][1]
    restore = executed["restore"]["text/markdown"]
    assert "✔ source found" in restore
    assert _rows(restore)["node"][1] == "`node-b`"
    assert "wbadmin start recovery" in restore


@pytest.mark.slow
@pytest.mark.e2e
def test_notebook_outputs_hold_no_password(executed: dict[str, dict[str, str]]) -> None:
    # SEC-1: no view shows the password (the notebook sets it itself, so its cell source does).
    for tag, bundle in executed.items():
        for mime, text in bundle.items():
            assert PASSWORD not in text, (tag, mime)


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("plan", ["ws2003-ntbackup", "ws2008r2-wsb", "ws2012-ja"])
def test_notebook_runs_with_the_other_example_plans(plan: str, tmp_path: Path) -> None:
    pytest.importorskip("nbclient", reason="the test extra installs nbclient, nbformat and ipykernel")
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = {"CLPBACKUP_PASSWORD": PASSWORD, "CLPBACKUP_NOTEBOOK_PLAN": f"../plans/{plan}.yaml"}
    execute(nb, tmp_path, env)
    out = outputs(nb)
    again = _rows(out["deploy-again"]["text/markdown"])
    cells = [c for row in again.values() if row[0] != "job" for c in row[1:]]
    assert cells and all(c.startswith("✔ unchanged") for c in cells)  # IDEM-1 on every OS
    day = out["status-after-day"]["text/markdown"]
    assert "expected: partition not attached (JOB-3)" in day and "✖" not in day
    fo = out["failover-backup"]["text/markdown"]
    assert "● started now" in fo and "○ not the owner: nothing to do" in fo
    assert "✔ source found" in out["restore"]["text/markdown"]


def _write() -> None:  # pragma: no cover - a maintenance command
    import tempfile

    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        executed = execute(copy.deepcopy(nb), Path(tmp))
    for cell in executed.cells:
        if cell.cell_type == "code":
            cell.metadata.pop("execution", None)
    nbformat.write(executed, NOTEBOOK)
    print(f"wrote {NOTEBOOK}")


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["--write"]:
        _write()
    else:
        sys.exit("usage: python tests/e2e/test_notebook.py --write")
