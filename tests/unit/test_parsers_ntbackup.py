"""Tests of clpbackup.parsers.ntbackup against UTF-16 LE log fixtures (2003; en-US, ja-JP)."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clpbackup.errors import ParseError
from clpbackup.parsers.ntbackup import NtbackupLog, parse_log
from tests.helpers.parsers import all_fixtures, fixture_bytes, fixture_text, mutated


def _log(where: str, name: str) -> NtbackupLog:
    return parse_log(fixture_bytes("ntbackup", where, name))


def test_fixtures_are_utf16le_with_bom() -> None:
    for where, name in all_fixtures("ntbackup"):
        assert fixture_bytes("ntbackup", where, name)[:2] == b"\xff\xfe"


def test_en_two_volumes_backup_and_verify() -> None:
    log = _log("2003-en-US", "backup01_local-verify-success.log")
    assert log.ok
    assert log.operations == ("backup", "verify")
    assert log.media_name == 'clpbackup-node-a created 3/8/2013 at 1:00 AM'
    assert log.destination == "4mm DDS"
    assert log.backup_completed == 2 and log.verify_completed == 2
    first, second = log.backup_sets
    assert (first.volume, first.via_shadow_copy, first.set_number, first.media_number) == ("C:", True, 1, 1)
    assert first.description == "local-daily" and first.backup_type == "Normal"
    assert first.started == datetime(2013, 3, 8, 1, 0) and first.completed == datetime(2013, 3, 8, 1, 21)
    assert (first.directories, first.files, first.bytes) == (1204, 18377, 4120553472)
    assert second.volume == "D: Data" and second.set_number == 2
    assert [v.different for v in log.verify_sets] == [0, 0]
    assert log.errors == () and log.warnings == () and log.vss_error_codes == ()


def test_en_vss_abort_is_failure_with_code() -> None:
    log = _log("2003-en-US", "backup02_vss-abort.log")
    assert not log.ok
    assert log.vss_error_codes == ("0x8004230C",) and not log.vss_fallback
    assert log.errors == ("Aborting Backup.", "The operation did not successfully complete.")
    assert log.sets == ()


def test_en_vss_fallback_with_skipped_file_is_ok_but_reported() -> None:
    log = _log("2003-en-US", "backup03_vss-fallback-skipped.log")
    assert log.ok
    assert log.vss_fallback and log.vss_error_codes == ("0x800423F2",)
    (only,) = log.sets
    assert only.volume == "E: Shared" and not only.via_shadow_copy
    assert log.destination == "File" and log.media_name == "shared-daily.bkf created 3/8/2013 at 3:00 AM"
    (warning,) = log.warnings
    assert 'E:\\db\\lock.dat' in warning and "being used by another process" in warning


def test_en_cut_while_running_is_not_ok() -> None:
    log = _log("2003-en-US", "backup04_cut-while-running.log")
    assert not log.ok
    (only,) = log.sets
    assert only.started == datetime(2013, 3, 8, 5, 0) and only.completed is None and not only.finished


def test_ja_backup_and_verify() -> None:
    log = _log("2003-ja-JP", "backup01_shared-success.log")
    assert log.ok
    assert log.operations == ("backup", "verify")
    (backup,) = log.backup_sets
    assert (backup.volume, backup.via_shadow_copy, backup.set_number) == ("E: Shared", True, 1)
    assert backup.backup_type == "標準"
    assert backup.started == datetime(2013, 3, 8, 4, 30) and backup.completed == datetime(2013, 3, 8, 5, 2)
    assert backup.files == 10482
    (verify,) = log.verify_sets
    assert verify.completed == datetime(2013, 3, 8, 5, 20) and verify.different == 0
    assert len(log.warnings) == 1 and "lock.dat" in log.warnings[0]
    assert log.media_name == "clpbackup-node-b 作成日 2013/03/08 4:30"


def test_ja_vss_abort() -> None:
    log = _log("2003-ja-JP", "backup02_vss-abort.log")
    assert not log.ok
    assert log.vss_error_codes == ("0x8004230C",)
    assert log.errors == ("バックアップを中止します。", "操作は正常に完了しませんでした。")


def test_text_input_gives_the_same_result_as_bytes() -> None:
    text = fixture_text("ntbackup", "2003-en-US", "backup01_local-verify-success.log")
    assert parse_log(text) == _log("2003-en-US", "backup01_local-verify-success.log")


def test_verify_started_but_not_completed_fails() -> None:
    text = fixture_text("ntbackup", "2003-en-US", "backup01_local-verify-success.log")
    cut = text[: text.index("Verify completed on 3/8/2013 at 1:57 AM.")]
    log = parse_log(cut)
    assert log.backup_completed == 2 and log.verify_completed == 1 and not log.ok


@pytest.mark.parametrize(
    "data",
    [
        "",
        "Hello\r\n",
        "Backup Status\r\nDirectories: many\r\n\r\nBackup of \"C:\"\r\nDirectories: many\r\n",
        "Backup Status\r\nBackup of \"C:\"\r\nBackup started on 2/30/2013 at 1:00 AM.\r\n",
        b"\xff\xfe\x00\xd8",  # a lone surrogate: not UTF-16 text
    ],
)
def test_bad_input_raises(data: str | bytes) -> None:
    with pytest.raises(ParseError):
        parse_log(data)


LOGS = all_fixtures("ntbackup")


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_mutated_gives_result_or_parse_error(data: st.DataObject) -> None:
    where, name = data.draw(st.sampled_from(LOGS))
    text = data.draw(mutated(fixture_text("ntbackup", where, name)))
    try:
        log = parse_log(text)
    except ParseError:
        return
    assert isinstance(log.ok, bool)


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_random_input_gives_result_or_parse_error(data: str | bytes) -> None:
    try:
        parse_log(data)
    except ParseError:
        pass
