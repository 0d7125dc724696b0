"""The simulated cmd.exe reads a running batch file by byte offset, as Windows' does.

cmd.exe does not keep a batch file in memory: before each line it reads the file as it is on disk and
takes the line that starts at the byte offset where the previous one ended (dbenham's "Phase 0) Read
Line"; the Qiita experiment "実行中のバッチファイルを書き換えるとどうなるか"; a file deleted under it ends
the batch with "The batch file cannot be found."). docs/windows-facts.md, "cmd.exe reads a running
batch file by byte offset (LIVE-1)".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clpbackup.plan import Plan
from clpbackup.testing import SimulatedCluster
from clpbackup.testing.model import SimulatedWindows
from clpbackup.testing.model.node import advance_nodes

BAT = r"C:\t\b.bat"
NEW = r"C:\t\new.bat"


@pytest.fixture()
def node() -> SimulatedWindows:
    return SimulatedWindows("node-a", "2012", volumes=["G:"])


def run(node: SimulatedWindows, line: str) -> tuple[int, str, str]:
    rc, out, err = node.run_command_line(line)
    return rc, out.decode(node.encoding), err.decode(node.encoding)


def _at_offset(offset: int, tail: str) -> str:
    """A file whose first line is a ``rem`` that runs ``tail`` when read from byte ``offset`` on."""
    head = "@echo off\r\nrem "
    return head + "x" * (offset - len(head)) + tail


def test_a_rewritten_batch_file_goes_on_at_the_byte_offset_in_the_new_bytes(node: SimulatedWindows) -> None:
    first = "@echo off\r\n"
    second = f"move /y {NEW} {BAT} >nul\r\n"
    node.write_file(BAT, first + second + "echo old third line\r\nexit /b 0\r\n")
    # the new file holds no such line: read from its start, "echo half" is inside a rem
    node.write_file(NEW, _at_offset(len(first + second), "echo half a line\r\nexit /b 7\r\n"))
    rc, out, err = run(node, f"cmd /c {BAT}")
    assert "half a line" in out and "old third line" not in out
    assert rc == 7 and err == ""
    # run from its start, the same file only remarks and exits 7
    rc, out, _err = run(node, f"cmd /c {BAT}")
    assert rc == 7 and "half a line" not in out


def test_a_batch_file_deleted_under_cmd_ends_with_the_batch_file_cannot_be_found(
    node: SimulatedWindows,
) -> None:
    node.write_file(BAT, '@echo off\r\necho before\r\ndel "%~f0"\r\necho after\r\n')
    rc, out, err = run(node, f"cmd /c {BAT}")
    assert "before" in out and "after" not in out
    assert err == "The batch file cannot be found.\r\n"
    assert rc == 0  # ERRORLEVEL as del left it (unverified on Windows, see windows-facts.md)


def test_goto_looks_for_its_label_in_the_file_as_it_is_on_disk(node: SimulatedWindows) -> None:
    first = "@echo off\r\n"
    second = f"move /y {NEW} {BAT} >nul\r\n"
    node.write_file(BAT, first + second + "goto done\r\n:done\r\necho old done\r\n")
    tail = "goto done\r\necho skipped\r\n:done\r\necho new done\r\n"
    node.write_file(NEW, _at_offset(len(first + second), tail))
    rc, out, _err = run(node, f"cmd /c {BAT}")
    assert rc == 0 and "new done" in out and "old done" not in out and "skipped" not in out


def test_call_label_looks_for_its_label_in_the_file_as_it_is_on_disk(node: SimulatedWindows) -> None:
    first = "@echo off\r\n"
    second = f"move /y {NEW} {BAT} >nul\r\n"
    node.write_file(BAT, first + second + "call :sub\r\nexit /b 0\r\n:sub\r\necho old sub\r\nexit /b 0\r\n")
    tail = "call :sub\r\nexit /b 0\r\n:sub\r\necho new sub\r\nexit /b 0\r\n"
    node.write_file(NEW, _at_offset(len(first + second), tail))
    rc, out, _err = run(node, f"cmd /c {BAT}")
    assert rc == 0 and "new sub" in out and "old sub" not in out


def test_an_unchanged_file_runs_as_before(node: SimulatedWindows) -> None:
    text = "@echo off\r\nset A=1\r\ncall :twice\r\necho %A%\r\nexit /b 3\r\n"
    node.write_file(BAT, text + ":twice\r\nset A=2\r\nexit /b 0\r\n")
    rc, out, _err = run(node, f"cmd /c {BAT}")
    assert (rc, out) == (3, "2\r\n")


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plans" / "ws2012-wsb.yaml"
LOG = r"C:\jobs\b.log"
BACKUP = (
    "@echo off\r\n"
    r"wbadmin start backup -backupTarget:\\nas01\backup\node-a -include:C:\data -quiet"
    f' > "{LOG}" 2>&1\r\n'
)


def test_a_file_rewritten_while_a_scheduled_backup_runs_is_read_at_the_old_offset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The case clpbackup's LIVE-1 guards against: the task's batch file replaced while wbadmin runs;
    when wbadmin returns cmd.exe reads the new file from where the wbadmin line ended."""
    monkeypatch.setenv("CLPBACKUP_PASSWORD", "Backup-Time!")
    sim = SimulatedCluster.from_plan(Plan.from_file(EXAMPLE), backup_duration=600)
    node = sim.node("node-a").model
    node.write_file(r"C:\jobs\b.bat", BACKUP + "set RC=%ERRORLEVEL%\r\nexit /b %RC%\r\n")
    create = r'schtasks /Create /TN b /SC DAILY /ST 23:00 /TR "cmd /c C:\jobs\b.bat" /RU SYSTEM /F'
    rc, _out, err = node.run_as("Administrator", create)
    assert rc == 0, err
    node.run_as("Administrator", "schtasks /Run /TN b")
    models = [n.model for n in sim.nodes]
    advance_nodes(models)
    task = node.scheduler.get("b")
    assert task is not None and task.running
    # a longer file: the old offset falls inside its rem line
    tail = "echo tail> C:\\jobs\\tail.txt\r\nexit /b 9\r\n"
    node.write_file(r"C:\jobs\b.bat", _at_offset(len(BACKUP), tail))
    advance_nodes(models, minutes=20)
    assert not task.running and task.last_result == 9
    assert node.read_text(r"C:\jobs\tail.txt") == "tail\r\n"
    assert not node.not_simulated
