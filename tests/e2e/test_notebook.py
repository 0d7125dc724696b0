"""The example notebook runs top to bottom in a real Jupyter kernel against the simulator.

The notebook (``examples/notebooks/cluster-backup.ipynb``) is executed with nbclient in an ipykernel
started from this interpreter (a kernel spec written to a temporary ``JUPYTER_PATH``, so whatever
kernels the machine has installed do not matter). The checks read the rich outputs of the tagged
cells: the views a notebook user sees.

``python tests/e2e/test_notebook.py --write`` executes the notebook and stores its outputs in the
file (run it after changing the views, so the committed notebook shows current output).
:func:`test_saved_outputs_are_current` fails when they are stale: it compares every code cell's
saved outputs with what the notebook produces now, normalising only what varies from run to run
(:data:`VARIES`: ports of 127.0.0.1, temporary paths; the simulator's clock does not vary) and leaving out
``stderr`` streams (library warnings depend on the machine, not on the notebook).
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


#: what honestly differs between two runs of the notebook, and what stands for it when comparing
VARIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"/tmp/[^\s'\"<)]+"), "<temporary path>"),
)


def comparable(nb: Any) -> list[list[tuple[str, str, str]]]:
    """Per code cell, its outputs as ``(output type, MIME type or stream, text)``, normalised."""

    def norm(text: Any) -> str:
        text = "".join(text) if isinstance(text, list) else str(text)
        for pattern, stand_in in VARIES:
            text = pattern.sub(stand_in, text)
        return text

    cells: list[list[tuple[str, str, str]]] = []
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        found: list[tuple[str, str, str]] = []
        for out in cell.get("outputs", []):
            kind = out.get("output_type", "")
            if kind == "stream":
                if out.get("name") != "stderr":
                    found.append((kind, out.get("name", ""), norm(out.get("text", ""))))
            elif kind == "error":
                found.append((kind, out.get("ename", ""), norm(out.get("evalue", ""))))
            else:
                found += [(kind, mime, norm(value)) for mime, value in sorted(out.get("data", {}).items())]
        cells.append(found)
    return cells


@pytest.fixture(scope="module")
def executed_nb(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pytest.importorskip("nbclient", reason="the test extra installs nbclient, nbformat and ipykernel")
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    return execute(nb, tmp_path_factory.mktemp("jupyter"), {"CLPBACKUP_PASSWORD": PASSWORD})


@pytest.fixture(scope="module")
def executed(executed_nb: Any) -> dict[str, dict[str, str]]:
    return outputs(executed_nb)


@pytest.mark.slow
@pytest.mark.e2e
def test_saved_outputs_are_current(executed_nb: Any) -> None:
    """The outputs saved in the notebook are what it produces now (modulo :data:`VARIES`)."""
    import nbformat

    saved = comparable(nbformat.read(NOTEBOOK, as_version=4))
    now = comparable(executed_nb)
    assert len(saved) == len(now)
    stale = [i for i, (old, new) in enumerate(zip(saved, now, strict=True)) if old != new]
    assert not stale, (
        f"{NOTEBOOK.name}: the saved outputs of code cell(s) {stale} (0-based, code cells only) are not "
        "what the notebook produces now; run `python tests/e2e/test_notebook.py --write` and commit it"
    )


def test_comparable_normalises_only_what_varies() -> None:
    from types import SimpleNamespace

    def nb(*outs: dict[str, Any]) -> Any:
        return SimpleNamespace(cells=[{"cell_type": "code", "outputs": list(outs)}])

    def text(t: str) -> dict[str, Any]:
        return {"output_type": "execute_result", "data": {"text/plain": t}}

    warning = {"output_type": "stream", "name": "stderr", "text": "DeprecationWarning: …"}
    a = nb(text("node-a http://127.0.0.1:40001/wsman"), warning)
    b = nb(text("node-a http://127.0.0.1:51234/wsman"))
    assert comparable(a) == comparable(b)  # ports vary, stderr is left out
    assert comparable(nb(text("last 2024-01-15 01:00"))) != comparable(nb(text("last 2024-01-16 01:00")))
    assert comparable(nb(text("in /tmp/abc/plan.yaml"))) == comparable(nb(text("in /tmp/xyz/plan.yaml")))


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
