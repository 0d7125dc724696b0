"""wbadmin on the simulated node: versions on volumes and shares, JOB-3 / WSB-2 failures, restore."""

from __future__ import annotations

import pytest

from clpbackup.parsers import wbadmin as wb_parser
from clpbackup.testing.model import ShareStore, SimulatedWindows, Volume


def run(node: SimulatedWindows, line: str) -> tuple[int, str, str]:
    rc, out, err = node.run_command_line(line)
    return rc, out.decode(node.encoding), err.decode(node.encoding)


def run_system(node: SimulatedWindows, line: str) -> tuple[int, str, str]:
    """As a scheduled task runs it: SYSTEM, which reaches shares as the computer account."""
    return node.run_as("SYSTEM", line)


@pytest.fixture()
def pair() -> tuple[SimulatedWindows, SimulatedWindows]:
    shares = ShareStore()
    a = SimulatedWindows(
        "node-a", "2012", volumes=[Volume("E:", "Shared"), "G:"], shares=shares, switchover_volumes=["E:"]
    )
    b = SimulatedWindows(
        "node-b", "2012", volumes=["G:"], shares=shares, clock=a.clock, switchover_volumes=["E:"]
    )
    a.write_file("E:\\db\\data.mdb", b"v1")
    return a, b


def test_backup_to_a_volume_keeps_versions(pair: tuple[SimulatedWindows, SimulatedWindows]) -> None:
    a, _ = pair
    rc, out, _ = run(a, "wbadmin start backup -include:E: -backupTarget:G: -quiet")
    summary = wb_parser.parse_backup_summary(out)
    assert rc == 0 and summary.succeeded
    assert summary.log_path == "C:\\Windows\\Logs\\WindowsServerBackup\\Backup-15-01-2024_00-00-00.log"
    assert a.fs.is_file(summary.log_path)
    a.advance(hours=1)
    assert run(a, "wbadmin start backup -include:E: -backupTarget:G: -quiet")[0] == 0
    versions = wb_parser.parse_versions(run(a, "wbadmin get versions")[1])
    assert [v.version_id for v in versions] == ["01/15/2024-00:00", "01/15/2024-01:00"]


def test_share_keeps_one_version_per_machine(pair: tuple[SimulatedWindows, SimulatedWindows]) -> None:
    a, b = pair
    target = "\\\\nas01\\backup\\node-a"
    assert run_system(a, f"wbadmin start backup -include:E: -backupTarget:{target} -quiet")[0] == 0
    a.advance(hours=2)
    a.write_file("E:\\db\\data.mdb", b"v2")
    rc, out, _ = run_system(a, f"wbadmin start backup -include:E: -backupTarget:{target} -quiet")
    assert rc == 0 and "updating the existing backup" in out
    versions = wb_parser.parse_versions(
        run_system(b, f"wbadmin get versions -backupTarget:{target} -machine:NODE-A")[1]
    )
    assert [v.version_id for v in versions] == ["01/15/2024-02:00"]
    assert b.fs.listdir(target + "\\WindowsImageBackup\\NODE-A") == ["Backup 2024-01-15 020000", "MediaId"]
    # WSB-3: the other node restores from the share
    rc, out, _ = run_system(
        b,
        f"wbadmin start recovery -version:01/15/2024-02:00 -itemType:File -items:E:\\db "
        f"-backupTarget:{target} -machine:NODE-A -recoveryTarget:C:\\restore -recursive -quiet",
    )
    assert rc == 0, out
    assert b.fs.read_bytes("C:\\restore\\db\\data.mdb") == b"v2"
    assert b.restores[0]["version"] == "01/15/2024-02:00" and b.restores[0]["machine"] == "NODE-A"


def test_a_winrm_session_without_delegation_gets_access_denied_on_shares(
    pair: tuple[SimulatedWindows, SimulatedWindows],
) -> None:
    """The second hop: NTLM / Kerberos-without-delegation sessions have no credentials for a share."""
    a, b = pair
    target = "\\\\nas01\\backup\\node-a"
    assert run_system(a, f"wbadmin start backup -include:E: -backupTarget:{target} -quiet")[0] == 0
    for line in (
        f"wbadmin get versions -backupTarget:{target} -machine:NODE-A",
        f"wbadmin start backup -include:E: -backupTarget:{target} -quiet",
        f"wbadmin start recovery -version:01/15/2024-00:00 -itemType:File -items:E:\\db "
        f"-backupTarget:{target} -machine:NODE-A -recoveryTarget:C:\\restore -recursive -quiet",
    ):
        rc, out, _ = run(a, line)
        assert rc != 0 and "ERROR - Access is denied." in out, (line, out)
    rc, out, _ = run(a, f"dir {target}")
    assert rc != 0
    # cmd's own file access from the session is refused too; a local volume target is not affected
    assert run(a, "wbadmin start backup -include:E: -backupTarget:G: -quiet")[0] == 0
    # without -backupTarget wbadmin lists its local catalog, share backups included, no share needed
    listed = wb_parser.parse_versions(run(a, "wbadmin get versions")[1])
    assert "01/15/2024-00:00" in [v.version_id for v in listed]
    # a task run as SYSTEM reaches the share as the computer account
    read = f"wbadmin get versions -backupTarget:{target} -machine:NODE-A > C:\\v.txt"
    assert run(b, f'schtasks /Create /TN t1 /SC ONCE /ST 00:00 /RU SYSTEM /F /TR "cmd /c {read}"')[0] == 0
    assert run(b, "schtasks /Run /TN t1")[0] == 0
    recorded = wb_parser.parse_versions(b.read_text("C:\\v.txt"))
    assert [v.version_id for v in recorded] == ["01/15/2024-00:00"]


def test_a_session_with_delegated_credentials_reaches_shares() -> None:
    """CredSSP (or Kerberos with delegation): the direct read works."""
    node = SimulatedWindows("node-a", "2012", volumes=[Volume("E:")], winrm_delegation=True)
    node.write_file("E:\\x.txt", b"x")
    target = "\\\\nas01\\backup\\node-a"
    assert run(node, f"wbadmin start backup -include:E: -backupTarget:{target} -quiet")[0] == 0
    out = run(node, f"wbadmin get versions -backupTarget:{target} -machine:NODE-A")[1]
    assert [v.version_id for v in wb_parser.parse_versions(out)] == ["01/15/2024-00:00"]


def test_switchover_job_fails_where_the_volume_is_not_attached(
    pair: tuple[SimulatedWindows, SimulatedWindows],
) -> None:
    _, b = pair
    rc, out, _ = run(b, "wbadmin start backup -include:E: -backupTarget:G: -quiet")
    assert rc != 0
    summary = wb_parser.parse_backup_summary(out)
    assert not summary.succeeded
    assert any("E:" in e for e in summary.errors)


def test_switchover_volume_is_never_a_target(pair: tuple[SimulatedWindows, SimulatedWindows]) -> None:
    a, _ = pair
    rc, out, _ = run(a, "wbadmin start backup -include:C: -backupTarget:E: -quiet")
    assert rc != 0 and "WSB-2" in out


def test_wsb_not_installed_means_no_wbadmin() -> None:
    node = SimulatedWindows("node-a", "2008R2", wsb_installed=False)
    rc, _, err = run(node, "wbadmin get versions")
    assert rc == 9009 and err.startswith("'wbadmin' is not recognized")
    node.install_wsb()
    assert run(node, "wbadmin get versions")[0] != 9009
    assert run(SimulatedWindows("old", "2003"), "wbadmin get versions")[0] == 9009


def test_2008_rtm_backs_up_volumes_only_and_61_format() -> None:
    node = SimulatedWindows("node-a", "2008", volumes=["G:"])
    node.write_file("C:\\data\\x.txt", "x")
    assert run(node, "wbadmin start backup -include:C:\\data -backupTarget:G: -quiet")[0] != 0
    rc, out, _ = run(node, "wbadmin start backup -include:C: -backupTarget:G: -quiet")
    assert rc == 0
    assert out.index("The backup operation successfully completed.") < out.index(
        "Summary of the backup operation:"
    )
    assert "Backup target: Fixed Disk labeled (G:)" in run(node, "wbadmin get versions")[1]


def test_ja_jp_versions_parse_and_id_is_utc() -> None:
    node = SimulatedWindows("node-b", "2012", codepage=932, tz="Asia/Tokyo", volumes=["G:"])
    node.advance(hours=20)  # 2024-01-15 20:00 UTC = 2024-01-16 05:00 JST
    assert run(node, "wbadmin start backup -include:C: -backupTarget:G: -quiet")[0] == 0
    out = run(node, "wbadmin get versions")[1]
    assert "バックアップ時間: 2024/01/16 5:00" in out
    assert [v.version_id for v in wb_parser.parse_versions(out)] == ["01/15/2024-20:00"]


def test_without_quiet_nobody_answers_the_prompt(pair: tuple[SimulatedWindows, SimulatedWindows]) -> None:
    a, _ = pair
    rc, out, _ = run(a, "wbadmin start backup -include:E: -backupTarget:G:")
    assert rc != 0 and "[Y] Yes [N] No" in out
    assert a.not_simulated


def test_a_share_can_refuse_the_computer_account(pair: tuple[SimulatedWindows, SimulatedWindows]) -> None:
    """SYSTEM reaches shares as the computer account; a share that does not grant it refuses SYSTEM."""
    a, _ = pair
    a.fs.shares.deny_computer_accounts.add("NAS01")
    backup = "wbadmin start backup -include:E: -quiet -backupTarget:\\\\{}\\backup\\node-a"
    rc, out, _ = run_system(a, backup.format("nas01"))
    assert rc != 0 and "ERROR - Access is denied." in out
    assert run_system(a, backup.format("nas02"))[0] == 0
