"""platforms: the commands per OS, Microsoft's documented invocations, and the refused combinations."""

from __future__ import annotations

from typing import Any

import pytest

from clpbackup.commands import Command
from clpbackup.errors import PlanError, QuotingError, UnsupportedError
from clpbackup.plan import Job
from clpbackup.platforms import (
    ONCE_SCRIPT_MARKER,
    TR_MAX,
    Win2003,
    Win2008,
    Win2008R2,
    Win2012,
    Win2012R2,
    Win2016,
    Win2019,
    Win2022,
    get_platform,
    os_for_kernel,
    run_batch,
)
from tests.helpers.argv import command_line_to_argv
from tests.helpers.treesitter import powershell_errors

W2003, W2008, W2008R2, W2012 = Win2003(), Win2008(), Win2008R2(), Win2012()
WSB = [W2008R2, W2012]


def switches(cmd_or_line: Command | str) -> list[str]:
    """Arguments of a command, lower-cased, for comparing with documented examples."""
    line = cmd_or_line if isinstance(cmd_or_line, str) else cmd_or_line.command_line()
    argv = command_line_to_argv(line)
    assert isinstance(cmd_or_line, str) or argv == list(cmd_or_line.argv), "command line does not round-trip"
    return [a.lower() for a in argv]


def job(**kw: Any) -> Job:
    base: dict[str, Any] = {"scope": "switchover", "include": ["E:"], "target": "\\\\nas01\\bk\\{node}"}
    base.update(kw)
    return Job.model_validate(base)


# -- get_platform ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("os", "cls"),
    [
        ("2003", Win2003),
        ("2008", Win2008),
        ("2008R2", Win2008R2),
        ("2008 R2", Win2008R2),
        ("2012", Win2012),
        ("2012 R2", Win2012R2),
        ("2012R2", Win2012R2),
        ("2012-R2", Win2012R2),
        ("2016", Win2016),
        ("2019", Win2019),
        ("2022", Win2022),
    ],
)
def test_get_platform(os: str, cls: type) -> None:
    assert type(get_platform(os)) is cls


@pytest.mark.parametrize("os", ["2025", "2000", "XP", "", "10"])
def test_unknown_os_is_refused_naming_os1(os: str) -> None:
    with pytest.raises(UnsupportedError, match="OS-1") as err:
        get_platform(os)
    assert "2003, 2008, 2008 R2, 2012, 2012 R2, 2016, 2019 and 2022" in str(err.value)


@pytest.mark.parametrize(
    ("version", "os"),
    [
        # ver / Win32_OperatingSystem.Version of each release (docs/windows-facts.md, "Newer Windows")
        ("5.2.3790", "2003"),
        ("6.0.6002", "2008"),
        ("6.1.7601", "2008R2"),
        ("6.2.9200", "2012"),
        ("6.3.9600", "2012R2"),
        ("10.0.14393", "2016"),
        ("10.0.17763", "2019"),
        ("10.0.17763.1234", "2019"),
        ("10.0.20348", "2022"),
        ("10.0.19045", None),  # Windows 10 22H2, a client
        ("10.0.26100", None),  # Windows Server 2025: not (yet) a platform
        ("10.0", None),
    ],
)
def test_kernel_versions_name_the_release(version: str, os: str | None) -> None:
    assert os_for_kernel(version) == os


def test_the_2012_family_builds_the_same_commands() -> None:
    j = job()
    daily = [c.argv for c in W2012.backup_commands("data", j, node="n1")]
    for p in (Win2012R2(), Win2016(), Win2019(), Win2022()):
        assert [c.argv for c in p.backup_commands("data", j, node="n1")] == daily
        assert p.feature_install_hint() == W2012.feature_install_hint()
        assert p.default_scheduler == "schtasks"


def test_at_on_2016_and_later_is_refused_os1() -> None:
    assert Win2012R2().at_deprecated and Win2012R2().at_available
    for p in (Win2016(), Win2019(), Win2022()):
        assert not p.at_available
        with pytest.raises(UnsupportedError, match=r"OS-1: at\.exe creates no jobs on Windows Server 20"):
            p.at_daily("22:00", "C:\\clp\\data.bat", field="scheduler")


def test_default_scheduler_and_tool_per_os() -> None:
    assert [p.default_scheduler for p in (W2003, W2008, W2008R2, W2012)] == ["at", "at", "at", "schtasks"]
    assert [p.backup_tool for p in (W2003, W2008, W2008R2, W2012)] == [
        "ntbackup",
        "wbadmin",
        "wbadmin",
        "wbadmin",
    ]
    assert W2012.at_deprecated and not W2008R2.at_deprecated


def test_feature_install_hints_os3() -> None:
    assert W2003.feature_install_hint() is None
    h2008 = W2008.feature_install_hint()
    assert h2008 is not None and h2008.command == "ServerManagerCmd -install Backup-Features"
    h2008r2 = W2008R2.feature_install_hint()
    assert h2008r2 is not None and "Add-WindowsFeature Backup-Features" in h2008r2.command
    assert h2008r2.shell == "powershell"
    h2012 = W2012.feature_install_hint()
    assert h2012 is not None and h2012.command == "Install-WindowsFeature Windows-Server-Backup"


# -- wbadmin start backup ----------------------------------------------------------------------------


def test_doc_example_volumes_to_f() -> None:
    # wbadmin-start-backup.md: "create a backup of volumes e:, d:\mountpoint and \\?\Volume{…}\ to f:"
    doc = (
        "wbadmin start backup -backupTarget:f: -include:e:,d:\\mountpoint,"
        "\\\\?\\Volume{cc566d14-44a0-11d9-9d93-806e6f6e6963}\\"
    )
    cmd = W2012.wbadmin_start_backup(
        "f:", ["e:", "d:\\mountpoint", "\\\\?\\Volume{cc566d14-44a0-11d9-9d93-806e6f6e6963}\\"], field="j"
    )
    assert switches(cmd) == [*switches(doc), "-quiet"]  # always -quiet (WSB-4)


def test_doc_example_with_systemstate_is_refused_wsb1() -> None:
    # wbadmin-start-backup.md: "-include:g\folder1,h:\folder2 -systemstate -vsscopy" — system state
    # is a system-recovery backup, unsupported under CLUSTERPRO.
    with pytest.raises(UnsupportedError, match="WSB-1"):
        W2012.wbadmin_start_backup(
            "d:", ["g:\\folder1", "h:\\folder2"], system_state=True, vss_copy=True, field="jobs.x"
        )


def test_doc_example_nonrecurse_with_noinheritacl() -> None:
    doc = (
        "wbadmin start backup -backupTarget:\\\\backupshare\\backup1 -noinheritacl "
        "-nonrecurseinclude:d:\\folder1"
    )
    cmd = W2012.wbadmin_start_backup(
        "\\\\backupshare\\backup1", non_recurse_include=["d:\\folder1"], no_inherit_acl=True, field="j"
    )
    assert sorted(switches(cmd)) == sorted([*switches(doc), "-quiet"])


def test_guide_sample_wsb4() -> None:
    # NEC's guide, USER_BK.BAT: wbadmin start backup -include:E: -backupTarget:G: -quiet
    cmd = W2008R2.backup_commands("shared", job(target="G:", vss="copy"), node="a")[0]
    assert set(switches(cmd)) >= {"wbadmin", "start", "backup", "-include:e:", "-backuptarget:g:", "-quiet"}
    assert cmd.argv[-1] == "-quiet"


def test_backup_job_expands_node_wsb3_and_passes_vss() -> None:
    j = job(include=["C:\\data", "D:\\app data"], exclude=["C:\\data\\tmp"], vss="full")
    cmd = W2012.backup_commands("local", j, node="node-b")[0]
    assert cmd.argv == (
        "wbadmin",
        "start",
        "backup",
        "-backupTarget:\\\\nas01\\bk\\node-b",
        "-include:C:\\data,D:\\app data",
        "-exclude:C:\\data\\tmp",
        "-vssFull",
        "-quiet",
    )
    assert cmd.command_line() == (
        'wbadmin start backup -backupTarget:\\\\nas01\\bk\\node-b "-include:C:\\data,D:\\app data" '
        "-exclude:C:\\data\\tmp -vssFull -quiet"
    )
    assert cmd.field == "jobs.local"
    copy = W2012.backup_commands("local", job(vss="copy"), node="x")[0]
    assert "-vssCopy" in copy.argv
    # 2008 RTM: a copy backup is wbadmin's default there and -vssCopy does not exist yet
    assert "-vssCopy" not in W2008.backup_commands("local", job(vss="copy"), node="x")[0].argv


@pytest.mark.parametrize("p", WSB)
def test_wbadmin_refusals(p: Any) -> None:
    with pytest.raises(UnsupportedError, match="exclude each other"):
        p.wbadmin_start_backup("G:", ["E:"], vss_full=True, vss_copy=True, field="j")
    with pytest.raises(UnsupportedError, match="allCritical fails without -backupTarget"):
        p.wbadmin_start_backup(None, [], all_critical=True, field="j")
    with pytest.raises(UnsupportedError, match="WSB-1"):
        p.wbadmin_start_backup("G:", ["E:"], all_critical=True, field="j")
    with pytest.raises(UnsupportedError, match="only valid with -backupTarget"):
        p.wbadmin_start_backup(None, ["E:"], field="j")
    with pytest.raises(UnsupportedError, match="also backed up"):
        p.wbadmin_start_backup("E:", ["e:\\data"], field="j")
    with pytest.raises(PlanError, match="JOB-4"):
        p.wbadmin_start_backup("G:", [], field="j")
    with pytest.raises(QuotingError) as info:
        p.wbadmin_start_backup("G:", ["C:\\a,b"], field="jobs.j")
    assert info.value.field == "jobs.j.include"


def test_wsb1_through_the_job_names_the_rule() -> None:
    with pytest.raises(UnsupportedError, match=r"WSB-1.*-systemState"):
        W2012.backup_commands("j", job(system_state=True), node="a")
    with pytest.raises(UnsupportedError, match=r"WSB-1.*-allCritical"):
        W2008R2.backup_commands("j", job(all_critical=True), node="a")


def test_job_without_target_on_wsb_names_the_field() -> None:
    with pytest.raises(PlanError) as info:
        W2012.backup_commands("j", job(target=None), node="a")
    assert info.value.field == "jobs.j.target"


def test_2008_rtm_volumes_only() -> None:
    ok = W2008.wbadmin_start_backup(
        "G:", ["E:", "\\\\?\\Volume{cc566d14-44a0-11d9-9d93-806e6f6e6963}\\"], field="j"
    )
    assert ok.argv[-1] == "-quiet"
    with pytest.raises(UnsupportedError, match="whole volumes only"):
        W2008.wbadmin_start_backup("G:", ["E:\\data"], field="j")
    with pytest.raises(UnsupportedError, match="2008 R2"):
        W2008.wbadmin_start_backup("G:", ["E:"], exclude=["E:\\tmp"], field="j")
    with pytest.raises(UnsupportedError, match="-vssCopy"):
        W2008.wbadmin_start_backup("G:", ["E:"], vss_copy=True, field="j")
    # the same selections are fine from 2008 R2 on
    assert W2008R2.wbadmin_start_backup("G:", ["E:\\data"], exclude=["E:\\tmp"], vss_copy=True, field="j")


# -- wbadmin get versions / start recovery ----------------------------------------------------------


def test_doc_examples_get_versions() -> None:
    assert switches(W2012.get_versions("h:")) == switches("wbadmin get versions -backupTarget:h:")
    assert switches(W2008R2.get_versions("\\\\servername\\share", "server01")) == switches(
        "wbadmin get versions -backupTarget:\\\\servername\\share -machine:server01"
    )
    assert W2012.get_versions().argv == ("wbadmin", "get", "versions")


@pytest.mark.parametrize(
    ("doc", "kwargs"),
    [
        (
            "wbadmin start recovery -version:03/31/2020-09:00 -itemType:Volume -items:d:",
            {"itemtype": "Volume", "items": ["d:"]},
        ),
        (
            "wbadmin start recovery -version:03/31/2020-09:00 -itemType:App -items:Registry "
            "-recoverytarget:d:\\",
            {"itemtype": "App", "items": ["Registry"], "recovery_target": "d:\\"},
        ),
        (
            "wbadmin start recovery -version:03/31/2020-09:00 -itemType:File -items:d:\\folder -recursive",
            {"itemtype": "File", "items": ["d:\\folder"], "recursive": True},
        ),
        (
            "wbadmin start recovery -version:03/31/2020-09:00 -itemType:Volume "
            "-items:\\\\?\\Volume{cc566d14-44a0-11d9-9d93-806e6f6e6963}\\",
            {"itemtype": "Volume", "items": ["\\\\?\\Volume{cc566d14-44a0-11d9-9d93-806e6f6e6963}\\"]},
        ),
    ],
)
def test_doc_examples_start_recovery(doc: str, kwargs: dict[str, Any]) -> None:
    cmd = W2012.start_recovery("03/31/2020-09:00", **kwargs)
    assert switches(cmd) == [*switches(doc), "-quiet"]


def test_doc_example_recovery_without_items_is_refused() -> None:
    # the last documented example names no -itemtype/-items, which the syntax requires
    with pytest.raises(UnsupportedError, match="-items is empty"):
        W2012.start_recovery(
            "04/30/2020-09:00", "File", [], target="\\\\servername\\share", machine="server01"
        )


def test_recovery_from_a_share_with_machine_and_overwrite() -> None:
    cmd = W2012.start_recovery(
        "04/30/2020-09:00",
        "file",
        ["E:\\data\\a.txt", "E:\\data\\b"],
        target="\\\\nas01\\bk\\node-a",
        machine="node-a",
        recursive=True,
        overwrite="createcopy",
        recovery_target="E:\\restore",
    )
    assert cmd.argv == (
        "wbadmin",
        "start",
        "recovery",
        "-version:04/30/2020-09:00",
        "-itemtype:File",
        "-items:E:\\data\\a.txt,E:\\data\\b",
        "-backupTarget:\\\\nas01\\bk\\node-a",
        "-machine:node-a",
        "-recoveryTarget:E:\\restore",
        "-recursive",
        "-overwrite:CreateCopy",
        "-quiet",
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"itemtype": "Volume", "items": ["d:", "e:"]}, "exactly one volume"),
        ({"itemtype": "App", "items": ["ADIFM"]}, "ADIFM needs -recoveryTarget"),
        ({"itemtype": "App", "items": ["Registry", "Exchange"]}, "exactly one application"),
        ({"itemtype": "File", "items": ["d:\\a\\x", "d:\\b\\y"]}, "same parent"),
        ({"itemtype": "Volume", "items": ["d:"], "recursive": True}, "only for -itemtype:File"),
        ({"itemtype": "App", "items": ["Registry"], "overwrite": "Skip"}, "only for -itemtype:File"),
        (
            {"itemtype": "File", "items": ["d:\\a"], "skip_bad_cluster_check": True},
            "only for -itemtype:Volume",
        ),
        ({"itemtype": "File", "items": ["d:\\a"], "no_roll_forward": True}, "only for -itemtype:App"),
        ({"itemtype": "Volume", "items": ["d:"], "target": "\\\\s\\share"}, "-machine must be given"),
        ({"itemtype": "System", "items": ["d:"]}, "not Volume, File or App"),
        ({"itemtype": "File", "items": ["d:\\a"], "overwrite": "Replace"}, "not Overwrite"),
    ],
)
def test_recovery_per_itemtype_rules(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(UnsupportedError, match=match):
        W2008R2.start_recovery("03/31/2020-09:00", **kwargs)


def test_recovery_version_must_be_an_identifier() -> None:
    with pytest.raises(PlanError, match="MM/DD/YYYY-HH:MM"):
        W2012.start_recovery("2020-03-31 09:00", "Volume", ["d:"])


def test_recovery_allowed_per_itemtype_switches() -> None:
    assert (
        "-skipBadClusterCheck"
        in W2012.start_recovery("03/31/2020-09:00", "Volume", ["d:"], skip_bad_cluster_check=True).argv
    )
    assert (
        "-noRollForward"
        in W2012.start_recovery("03/31/2020-09:00", "App", ["Registry"], no_roll_forward=True).argv
    )
    assert (
        "-notRestoreAcl"
        in W2012.start_recovery("03/31/2020-09:00", "File", ["d:\\a"], not_restore_acl=True).argv
    )


def test_2003_has_no_wbadmin_and_gives_restore_steps_rs2() -> None:
    with pytest.raises(UnsupportedError, match="OS-1"):
        W2003.get_versions()
    with pytest.raises(UnsupportedError, match="GUI"):
        W2003.start_recovery("03/31/2020-09:00", "Volume", ["d:"])
    steps = W2003.restore_steps("DDS Library")
    assert [c.command_line() for c in steps.commands] == ['rsm refresh /LF"DDS Library"']
    assert any("RS-2" in s for s in steps.steps) and any("Catalog" in s for s in steps.steps)
    assert any("RS-1" in s for s in steps.steps)
    no_lib = W2003.restore_steps()
    assert no_lib.commands == () and any("Inventory" in s for s in no_lib.steps)
    with pytest.raises(UnsupportedError):
        W2012.restore_steps("x")


# -- ntbackup and rsm (2003) -------------------------------------------------------------------------


def nt(**kw: Any) -> Job:
    return job(target=None, ntbackup=kw)


def test_guide_sample_nt2_with_pool_and_unmanaged() -> None:
    # NEC's guide: ntbackup.exe backup "@C:\BKSCRIPT\full.bks" /v:no /r:no /rs:no /hc:on /m normal
    #              /j "full.job" /l:f /p "4mm DAT" /um
    guide = (
        'ntbackup backup "@C:\\BKSCRIPT\\full.bks" /v:no /r:no /rs:no /hc:on /m normal /j "full.job" '
        '/l:f /p "4mm DAT" /um'
    )
    cmd = W2003.ntbackup_backup("C:\\BKSCRIPT\\full.bks", job="full.job", media_pool="4mm DAT", field="j")
    assert sorted(switches(cmd)) == sorted(switches(guide))
    assert cmd.command_line() == (
        'ntbackup backup "@C:\\BKSCRIPT\\full.bks" /J "full.job" /P "4mm DAT" /UM '
        "/V:no /R:no /L:f /M normal /RS:no /HC:on"
    )


def test_ntbackup_job_with_library_refreshes_first_nt1() -> None:
    j = nt(media_pool="4mm DDS", library="Tape Library", type="incremental", verify=True, snapshot=True)
    cmds = W2003.backup_commands("local", j, node="a", selection="C:\\clpbackup\\local.bks")
    assert [c.program for c in cmds] == ["rsm", "ntbackup"]
    assert cmds[0].command_line() == 'rsm refresh /LF"Tape Library"'
    assert cmds[0].field == "jobs.local.ntbackup.library"
    line = cmds[1].command_line()
    assert "/M incremental" in line and "/V:yes" in line and line.endswith("/SNAP:on")
    # the failover run is a full backup (FO-2)
    fo = W2003.backup_commands("local", j, node="a", selection="C:\\clpbackup\\local.bks", failover=True)
    assert "/M normal" in fo[1].command_line()
    # no library, no rsm
    assert [
        c.program for c in W2003.backup_commands("l", nt(tape="T1"), node="a", selection="C:\\l.bks")
    ] == ["ntbackup"]


def test_ntbackup_append_to_a_named_tape_nt3() -> None:
    cmds = W2003.backup_commands("s", nt(tape="Daily Tape"), node="a", selection="C:\\s.bks", append=True)
    line = cmds[-1].command_line()
    assert '/T "Daily Tape" /A' in line and "/P" not in line
    with pytest.raises(UnsupportedError, match="NT-3"):
        W2003.backup_commands("s", nt(media_pool="4mm DDS"), node="a", selection="C:\\s.bks", append=True)


def test_ntbackup_file_target_expands_node_and_never_passes_a() -> None:
    cmds = W2003.backup_commands(
        "s", nt(file="\\\\nas\\bk\\{node}.bkf"), node="node-b", selection="C:\\s.bks", append=True
    )
    assert cmds[-1].argv[1:6] == ("backup", "@C:\\s.bks", "/J", "s", "/F")
    assert "\\\\nas\\bk\\node-b.bkf" in cmds[-1].argv and "/A" not in cmds[-1].argv


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"media_pool": "P", "append": True, "tape": "T"}, "/P .* cannot be combined"),
        ({"media_pool": "P", "file": "C:\\x.bkf"}, "/P .* cannot be combined"),
        ({"media_pool": "P", "guid": "{x}"}, "/P .* cannot be combined"),
        ({"file": "C:\\x.bkf", "tape": "T"}, "/F .* cannot be combined"),
        ({"file": "C:\\x.bkf", "guid": "{x}"}, "/F .* cannot be combined"),
        ({"tape": "T", "media_name": "N", "append": True}, "/N .* cannot be combined with /A"),
        ({"file": "C:\\x.bkf", "append": True}, "/A .* needs /G or /T"),
        ({"tape": "T", "unmanaged": True}, "/UM"),
        ({}, "needs a destination"),
        ({"tape": "T", "type": "full"}, "/M 'full'"),
        ({"tape": "T", "log": "x"}, "/L:x"),
        ({"tape": "T", "systemstate": True, "type": "incremental"}, "system state"),
    ],
)
def test_ntbackup_switch_exclusions(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(UnsupportedError, match=match):
        W2003.ntbackup_backup("C:\\s.bks", job="j", field="jobs.j.ntbackup", **kwargs)


def test_ntbackup_allowed_combinations() -> None:
    assert "/A" in W2003.ntbackup_backup("C:\\s.bks", job="j", guid="{1}", append=True, field="f").argv
    sysstate = W2003.ntbackup_backup("C:\\s.bks", job="j", tape="T", systemstate=True, type="copy", field="f")
    assert sysstate.argv[1:3] == ("backup", "systemstate")
    assert (
        '/N "New media"'
        in W2003.ntbackup_backup(
            "C:\\s.bks", job="j", tape="T", media_name="New media", field="f"
        ).command_line()
    )


def test_ntbackup_values_with_quotes_are_refused() -> None:
    with pytest.raises(QuotingError) as info:
        W2003.rsm_refresh('Lib "A"', field="jobs.j.ntbackup.library")
    assert info.value.field == "jobs.j.ntbackup.library"
    with pytest.raises(QuotingError):
        W2003.ntbackup_backup("C:\\s.bks", job="j", media_pool='a"b', field="f")


@pytest.mark.parametrize("library", ["..\\..\\", "HP DAT72\\", "\\"])
def test_a_library_name_ending_in_a_backslash_is_refused(library: str) -> None:
    """Found by the long plan fuzz: ``rsm refresh /LF"..\\..\\"`` — under the C runtime's rules the
    last backslash escapes the closing quote (the simulator's rsm read ``..\\.."``); rsm's own parsing
    is undocumented, so no quoting is safe and the name is refused, naming the field."""
    with pytest.raises(QuotingError) as info:
        W2003.rsm_refresh(library, field="jobs.j.ntbackup.library")
    assert info.value.field == "jobs.j.ntbackup.library" and "ends with a backslash" in info.value.message
    assert "rsm view /tlibrary" in (info.value.hint or "")
    # a backslash inside the name is left alone: only the one before the closing quote is ambiguous
    assert W2003.rsm_refresh("Lib\\A", field="f").command_line() == 'rsm refresh /LF"Lib\\A"'


def test_2003_job_needs_ntbackup_settings() -> None:
    with pytest.raises(PlanError) as info:
        W2003.backup_commands("j", job(), node="a", selection="C:\\j.bks")
    assert info.value.field == "jobs.j.ntbackup"


# -- schedulers --------------------------------------------------------------------------------------

RUN = run_batch("C:\\clpbackup\\daily.bat")


def test_run_batch_is_cmd_c_quoted() -> None:
    assert RUN == 'cmd /c "C:\\clpbackup\\daily.bat"'
    with pytest.raises(QuotingError):
        run_batch("C:\\Program Files (x86)\\clp\\a.bat")


def test_doc_example_schtasks_daily_system() -> None:
    # schtasks-create.md: schtasks /create /tn My App /tr myapp.exe /sc daily /st 04:00 ... /ru System
    cmd = W2012.schtasks_daily("My App", "04:00", "myapp.exe", field="f")
    got = switches(cmd)
    for pair in (
        ["/tn", "my app"],
        ["/tr", "myapp.exe"],
        ["/sc", "daily"],
        ["/st", "04:00"],
        ["/ru", "system"],
    ):
        i = got.index(pair[0])
        assert got[i : i + 2] == pair
    assert "/rp" not in got and got[-1] == "/f"


def test_schtasks_daily_and_once_exact() -> None:
    daily = W2012.schtasks_daily("clpbackup-prod-local", "01:00", RUN, field="jobs.local.daily_at")
    assert daily.command_line() == (
        "schtasks /Create /TN clpbackup-prod-local /SC DAILY /ST 01:00 "
        '/TR "cmd /c \\"C:\\clpbackup\\daily.bat\\"" /RU SYSTEM /F'
    )
    once = W2008R2.schtasks_once("clpbackup-prod-shared-once", "05:00", RUN, field="failover_backup.at")
    assert once.argv == (
        "schtasks",
        "/Create",
        "/TN",
        "clpbackup-prod-shared-once",
        "/SC",
        "ONCE",
        "/ST",
        "05:00",
        "/TR",
        RUN,
        "/RU",
        "SYSTEM",
        "/F",
    )
    assert "/RP" not in once.argv  # SEC-1


@pytest.mark.parametrize("platform", [W2008, W2008R2, W2012])
def test_schtasks_once_next_registers_the_next_occurrence_fo2(platform: Any) -> None:
    """FO-2: no /ST-only schtasks (today, never run once past): PowerShell computes the next
    occurrence on the node and registers it with an ISO 8601 StartBoundary (locale-free)."""
    import base64

    cmd = platform.schtasks_once_next("clpbackup-prod-shared-once", "05:00", RUN, field="failover_backup.at")
    assert cmd.argv[:4] == ("powershell", "-NoProfile", "-NonInteractive", "-EncodedCommand")
    assert switches(cmd)[-1] == cmd.argv[-1].lower()  # one base64 token: nothing for cmd.exe to quote
    script = base64.b64decode(cmd.argv[4]).decode("utf-16-le")
    assert script.startswith(ONCE_SCRIPT_MARKER + "\n")
    assert "$name = 'clpbackup-prod-shared-once'" in script and "$at = '05:00'" in script
    assert "$path = 'cmd'" in script and "$arguments = '/c \"C:\\clpbackup\\daily.bat\"'" in script
    assert "StartBoundary" in script and "/SD" not in script and "/RP" not in script  # SEC-1
    assert powershell_errors(script) == []


def test_schtasks_once_next_is_refused_on_2003_fo2() -> None:
    with pytest.raises(UnsupportedError, match="FO-2") as info:
        W2003.schtasks_once_next("clpbackup-prod-shared-once", "05:00", RUN, field="failover_backup.at")
    assert "scheduler: at" in str(info.value)


def test_doc_example_schtasks_once() -> None:
    # schtasks-create.md: schtasks /create /tn My App /tr c:\apps\myapp.exe /sc once /sd 01/01/2003 /st 00:00
    got = switches(W2012.schtasks_once("My App", "00:00", "c:\\apps\\myapp.exe", field="f"))
    for pair in (["/tn", "my app"], ["/tr", "c:\\apps\\myapp.exe"], ["/sc", "once"], ["/st", "00:00"]):
        i = got.index(pair[0])
        assert got[i : i + 2] == pair


def test_2003_schtasks_time_has_seconds() -> None:
    assert "01:30:00" in W2003.schtasks_daily("t", "01:30", RUN, field="f").argv
    assert "01:30" in W2008.schtasks_daily("t", "01:30", RUN, field="f").argv


def test_schtasks_limits() -> None:
    long_run = 'cmd /c "C:\\' + "x" * (TR_MAX - 12) + '"'
    assert len(long_run) == TR_MAX
    W2012.schtasks_daily("t", "01:00", long_run, field="f")
    with pytest.raises(QuotingError, match="261") as info:
        W2012.schtasks_daily("t", "01:00", long_run[:-1] + 'x"', field="scripts_dir")
    assert info.value.field == "scripts_dir"
    with pytest.raises(QuotingError, match="238"):
        W2012.schtasks_daily("t" * 239, "01:00", RUN, field="f")
    with pytest.raises(QuotingError):
        W2012.schtasks_daily("a|b", "01:00", RUN, field="f")
    with pytest.raises(PlanError, match="24-hour"):
        W2012.schtasks_daily("t", "25:00", RUN, field="jobs.j.daily_at")


def test_schtasks_delete_query_run() -> None:
    assert W2012.schtasks_delete("clpbackup-c-j").argv == (
        "schtasks",
        "/Delete",
        "/TN",
        "clpbackup-c-j",
        "/F",
    )
    assert W2003.schtasks_query().argv == ("schtasks", "/Query", "/FO", "CSV", "/V")
    assert W2012.schtasks_run("clpbackup-c-j").argv == ("schtasks", "/Run", "/TN", "clpbackup-c-j")


def test_doc_example_at_every_and_once() -> None:
    # at.md: at \\marketing 00:00 /every:5,10,15,20,25,30 archive — our daily form uses weekdays
    daily = W2008R2.at_daily("00:00", "C:\\clpbackup\\daily.bat", field="f")
    assert daily.command_line() == 'at 00:00 /every:M,T,W,Th,F,S,Su cmd /c "C:\\clpbackup\\daily.bat"'
    assert command_line_to_argv(daily.command_line()) == list(daily.argv)
    once = W2003.at_once("05:00", "C:\\my scripts\\fo.bat", field="f")
    assert once.command_line() == 'at 05:00 cmd /c "C:\\my scripts\\fo.bat"'
    assert command_line_to_argv(once.command_line()) == list(once.argv)
    # NEC's guide (2008/2008 R2 sample): AT 00:00 "C:\...\USER_BK.BAT" — same time, run through cmd /c
    assert once.argv[-3:] == ("cmd", "/c", "C:\\my scripts\\fo.bat")


def test_at_on_every_os_including_2012() -> None:
    for p in (W2003, W2008, W2008R2, W2012):
        assert p.at_daily("01:00", "C:\\c\\j.bat", field="f").program == "at"


def test_at_delete_and_query() -> None:
    assert W2003.at_delete(3).argv == ("at", "3", "/delete", "/yes")
    assert W2003.at_query().argv == ("at",)
    with pytest.raises(PlanError):
        W2003.at_delete(0)
