"""``clpbackup completion bash``: the script bash sources completes commands, options and choices."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def complete(script: Path, *words: str) -> list[str]:
    """What bash offers for the last of ``words`` (``clpbackup`` first)."""
    array = " ".join(f"'{w}'" for w in words)
    code = (f"source '{script}'; COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; _clpbackup; "
            'printf "%s\\n" "${COMPREPLY[@]}"')
    out = subprocess.run(["bash", "-c", code], capture_output=True, text=True, timeout=30, cwd=script.parent)
    assert out.returncode == 0, out.stderr
    return [w for w in out.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_from_the_real_entry_point(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "clpbackup", "completion", "bash"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / "clpbackup.bash"
    script.write_text(proc.stdout, encoding="utf-8")
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    (tmp_path / "plan.yaml").write_text("", encoding="utf-8")

    assert set(complete(script, "clpbackup", "")) >= {"init", "sim", "status", "validate", "completion"}
    assert complete(script, "clpbackup", "in") == ["init"]
    formats = complete(script, "clpbackup", "status", "plan.yaml", "--format", "")
    assert formats == ["text", "json", "html", "md"]
    assert "--out" in complete(script, "clpbackup", "status", "--")
    assert complete(script, "clpbackup", "sim", "") == [
        "status", "advance", "failover", "failback", "down", "up", "share-down", "share-up"
    ]
    assert complete(script, "clpbackup", "validate", "pl") == ["plan.yaml"]  # plans complete as files


def test_unknown_shell_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    from clpbackup.cli import main

    assert main(["completion", "fish"]) == 2
    assert "invalid choice: 'fish'" in capsys.readouterr().err
