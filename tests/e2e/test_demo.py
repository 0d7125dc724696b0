"""`clpbackup demo` (the README's main command) tells the whole story and exits 0 only when it held."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plans"


def run(*args: str, env_password: bool = False) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if k != "CLPBACKUP_PASSWORD"}
    return subprocess.run(
        [sys.executable, "-m", "clpbackup", "demo", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_demo_on_the_default_plan() -> None:
    proc = run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for expected in ("deploy --check", "IDEM-1", "JOB-3", "FO-2", "RS-1", "FB-1", "Every step behaved"):
        assert expected in out
    assert "[FAILED]" not in out


@pytest.mark.parametrize(
    "plan",
    ["ws2003-ntbackup.yaml", "ws2008r2-wsb.yaml", "ws2012-ja.yaml", "ws2019-wsb.yaml", "ws2016-ja.yaml"],
)
def test_demo_on_the_other_examples(plan: str) -> None:
    proc = run("--plan", str(EXAMPLES / plan))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_demo_with_a_plan_that_breaks_a_rule_exits_1(tmp_path: Path) -> None:
    text = (EXAMPLES / "ws2012-wsb.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(r"'\\nas01\backup\{node}-shared'", "'E:'"), encoding="utf-8")  # WSB-2
    proc = run("--plan", str(bad))
    assert proc.returncode == 1
    assert "[FAILED] no rule is broken" in proc.stdout


def test_demo_with_an_unreadable_plan_exits_2(tmp_path: Path) -> None:
    proc = run("--plan", str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2
