"""Tests of clpbackup.parsers.wbadmin against the fixtures (2008 R2, 2012; en-US, ja-JP)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clpbackup.errors import ParseError
from clpbackup.parsers.wbadmin import (
    BackupSummary,
    parse_backup_summary,
    parse_version_id,
    parse_versions,
    reported_error,
)
from tests.helpers.parsers import all_fixtures, fixture_text, mutated

UTC = timezone.utc


def test_versions_2008r2_en_two_local() -> None:
    versions = parse_versions(fixture_text("wbadmin", "2008r2-en-US", "get-versions_two-local.txt"))
    assert [v.version_id for v in versions] == ["03/06/2013-09:00", "03/07/2013-09:00"]
    first = versions[0]
    assert first.time_utc == datetime(2013, 3, 6, 9, 0, tzinfo=UTC)
    assert first.backup_time_text == "3/6/2013 1:00 AM"
    assert first.location == "Fixed Disk labeled Backup(G:)"
    assert first.target == "G:"
    assert first.can_recover == ("Volume(s)", "File(s)")
    assert first.snapshot_id == "{4b7e2d90-1c3a-4f65-8e21-0d9a6c5b3f17}"


def test_versions_2008r2_ja_ideographic_comma_and_jst_to_utc() -> None:
    versions = parse_versions(fixture_text("wbadmin", "2008r2-ja-JP", "get-versions_two-local.txt"))
    assert len(versions) == 2
    # JST 2013/03/06 01:00 is the day before in UTC.
    assert versions[0].time_utc == datetime(2013, 3, 5, 16, 0, tzinfo=UTC)
    assert versions[0].backup_time_text == "2013/03/06 1:00"
    assert versions[0].can_recover == ("ボリューム", "ファイル")
    assert versions[0].target == "G:"
    assert versions[1].version_id == "03/06/2013-16:00"


def test_versions_2012_en_share_location() -> None:
    (version,) = parse_versions(fixture_text("wbadmin", "2012-en-US", "get-versions_share.txt"))
    assert version.location == "Network Share labeled \\\\nas01\\backup\\node-a-shared\\"
    assert version.target == "\\\\nas01\\backup\\node-a-shared\\"
    assert version.time_utc == datetime(2013, 3, 7, 11, 0, tzinfo=UTC)


def test_versions_2012_ja_share_comma_separated() -> None:
    versions = parse_versions(fixture_text("wbadmin", "2012-ja-JP", "get-versions_share.txt"))
    assert [v.target for v in versions] == ["\\\\nas01\\backup\\node-b-shared\\"] * 2
    assert versions[1].can_recover == ("ボリューム", "ファイル")
    assert versions[1].time_utc == datetime(2013, 3, 7, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize("where", ["2008r2-en-US", "2008r2-ja-JP"])
def test_versions_none_is_empty(where: str) -> None:
    assert parse_versions(fixture_text("wbadmin", where, "get-versions_none.txt")) == []


def test_versions_banner_only_is_empty() -> None:
    text = "wbadmin 1.0 - Backup command-line tool\r\n(C) Copyright 2004 Microsoft Corp.\r\n\r\n"
    assert parse_versions(text) == []


def test_versions_unknown_label_with_version_identifier_is_still_read() -> None:
    text = "Sicherungszeit: 07.03.2013 01:00\nVersionsbezeichner: 03/07/2013-00:00\n"
    (version,) = parse_versions(text)
    assert version.version_id == "03/07/2013-00:00"
    assert version.backup_time_text is None


def test_versions_error_line_raises_with_message() -> None:
    text = "wbadmin 1.0 - Backup command-line tool\n\nERROR - The backup location could not be found.\n"
    with pytest.raises(ParseError, match="could not be found"):
        parse_versions(text)


@pytest.mark.parametrize(
    "text",
    ["", "   \r\n", "Hello world\n", "Version identifier: 13/45/2013-25:00\n", "Version identifier: soon\n"],
)
def test_versions_unrecognised_raises(text: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_versions(text)
    assert info.value.tool == "wbadmin get versions"


def test_parse_version_id() -> None:
    assert parse_version_id(" 10/04/2020-17:48 ") == datetime(2020, 10, 4, 17, 48, tzinfo=UTC)
    with pytest.raises(ParseError):
        parse_version_id("2020-10-04 17:48")


def _summary(where: str, name: str) -> BackupSummary:
    return parse_backup_summary(fixture_text("wbadmin", where, name))


def test_summary_2008r2_en_success_61_word_order() -> None:
    summary = _summary("2008r2-en-US", "start-backup_local-success.txt")
    assert summary.outcome == "success" and summary.succeeded
    assert summary.target == "G:"
    (volume,) = summary.volumes
    assert (volume.volume, volume.label, volume.succeeded) == ("E:", "Data", True)
    assert summary.errors == () and summary.error_codes == ()
    assert summary.log_path is None and summary.error_log_path is None


def test_summary_2012_en_share_success() -> None:
    summary = _summary("2012-en-US", "start-backup_share-success.txt")
    assert summary.succeeded
    assert summary.target == "\\\\nas01\\backup\\node-a-shared\\"
    assert [(v.volume, v.label, v.succeeded) for v in summary.volumes] == [("E:", None, True)]
    assert summary.log_path == "C:\\Windows\\Logs\\WindowsServerBackup\\Backup-07-03-2013_11-00-07.log"


def test_versions_2019_share_without_snapshot_id() -> None:
    # the format of a real 2019 capture (shared/reference/outputs): a share version has no Snapshot ID
    (version,) = parse_versions(fixture_text("wbadmin", "2019-en-US", "get-versions_share.txt"))
    assert version.version_id == "04/01/2026-04:00"
    assert version.time_utc == datetime(2026, 4, 1, 4, 0, tzinfo=timezone.utc)
    assert version.backup_time_text == "3/31/2026 9:00 PM"  # local time, kept as text
    assert version.target == "\\\\nas01\\backup\\node-a\\"
    assert version.can_recover == ("Volume(s)", "File(s)")


def test_summary_2019_share_with_note_and_selected_files() -> None:
    # 2019: the share note before "Retrieving volume information...", "(Selected Files)", repeated
    # identify/scan lines; none of them is failure evidence
    summary = _summary("2019-en-US", "start-backup_share-success.txt")
    assert summary.outcome == "success" and summary.succeeded
    assert summary.target == "\\\\nas01\\backup\\node-a\\"
    assert [(v.volume, v.label, v.succeeded) for v in summary.volumes] == [("C:", None, True)]
    assert summary.errors == () and summary.error_codes == ()
    assert summary.log_path == "C:\\Windows\\Logs\\WindowsServerBackup\\Backup-01-04-2026_04-00-12.log"


def test_summary_2008r2_en_vss_failure() -> None:
    summary = _summary("2008r2-en-US", "start-backup_vss-failure.txt")
    assert summary.outcome == "failure" and not summary.succeeded
    assert summary.error_codes == ("0x8004230C",)
    assert any("Volume Shadow Copy" in e for e in summary.errors)
    assert any("stopped before completing" in e for e in summary.errors)
    assert [v.succeeded for v in summary.volumes] == [False]
    assert summary.error_log_path is not None
    assert summary.error_log_path.endswith("Backup_Error-06-03-2013_16-00-04.log")


def test_summary_2012_en_error_line_only() -> None:
    summary = _summary("2012-en-US", "start-backup_target-missing.txt")
    assert summary.outcome == "failure"
    assert summary.errors == (
        "The specified backup location could not be found or is not a supported backup storage location.",
    )
    assert summary.volumes == ()


def test_summary_ja_success_both_orders() -> None:
    for where, name, target in [
        ("2008r2-ja-JP", "start-backup_local-success.txt", "G:"),
        ("2012-ja-JP", "start-backup_share-success.txt", "\\\\nas01\\backup\\node-b-shared\\"),
    ]:
        summary = _summary(where, name)
        assert summary.succeeded, (where, summary)
        assert summary.target == target
        assert len(summary.volumes) == 1 and summary.volumes[0].volume == "E:"
        assert summary.volumes[0].succeeded


def test_summary_ja_vss_failure_code_normalised() -> None:
    summary = _summary("2012-ja-JP", "start-backup_vss-failure.txt")
    assert summary.outcome == "failure"
    assert summary.error_codes == ("0x8004230C",)
    assert summary.error_log_path is not None
    assert summary.error_log_path.endswith("Backup_Error-07-03-2013_20-00-03.log")


def test_summary_cut_before_the_end_is_incomplete() -> None:
    text = fixture_text("wbadmin", "2012-en-US", "start-backup_share-success.txt")
    cut = text[: text.index("Summary of the backup operation")]
    summary = parse_backup_summary(cut)
    assert summary.outcome == "incomplete" and not summary.succeeded


def test_summary_volume_failure_overrides_success_line() -> None:
    text = (
        "The backup operation successfully completed.\n"
        "The backup of volume (E:) completed successfully.\n"
        "The backup of volume (F:) did not complete successfully.\n"
    )
    summary = parse_backup_summary(text)
    assert summary.outcome == "failure"
    assert [(v.volume, v.succeeded) for v in summary.volumes] == [("E:", True), ("F:", False)]


@pytest.mark.parametrize("text", ["", "\r\n", "Access is denied.\r\n", "some other program\n"])
def test_summary_unrecognised_raises(text: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_backup_summary(text)
    assert info.value.tool == "wbadmin start backup"


VERSION_FIXTURES = all_fixtures("wbadmin", "get-versions_*")
BACKUP_FIXTURES = all_fixtures("wbadmin", "start-backup_*")


def test_fixture_sets_cover_both_locales_and_oses() -> None:
    oses = {"2008r2-en-US", "2008r2-ja-JP", "2012-en-US", "2012-ja-JP", "2019-en-US"}
    assert {w for w, _ in VERSION_FIXTURES} == oses
    assert {w for w, _ in BACKUP_FIXTURES} == oses


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_versions_mutated_gives_result_or_parse_error(data: st.DataObject) -> None:
    where, name = data.draw(st.sampled_from(VERSION_FIXTURES))
    text = data.draw(mutated(fixture_text("wbadmin", where, name)))
    try:
        result = parse_versions(text)
    except ParseError:
        return
    assert all(v.time_utc.tzinfo is UTC for v in result)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_summary_mutated_gives_result_or_parse_error(data: st.DataObject) -> None:
    where, name = data.draw(st.sampled_from(BACKUP_FIXTURES))
    text = data.draw(mutated(fixture_text("wbadmin", where, name)))
    try:
        result = parse_backup_summary(text)
    except ParseError:
        return
    assert result.outcome in ("success", "failure", "incomplete")


@given(st.text(max_size=200))
def test_random_text_gives_result_or_parse_error(text: str) -> None:
    for func in (parse_versions, parse_backup_summary):
        try:
            func(text)
        except ParseError:
            pass


def test_versions_without_blank_line_between_blocks() -> None:
    text = fixture_text("wbadmin", "2008r2-en-US", "get-versions_two-local.txt")
    joined = text.replace("\r\n\r\nBackup time:", "\r\nBackup time:")
    assert [v.version_id for v in parse_versions(joined)] == ["03/06/2013-09:00", "03/07/2013-09:00"]


def test_versions_block_without_identifier_raises() -> None:
    text = (
        "Backup time: 3/6/2013 1:00 AM\nVersion identifier: 03/06/2013-09:00\n"
        "Backup time: 3/7/2013 1:00 AM\n"
    )
    with pytest.raises(ParseError, match="no version identifier"):
        parse_versions(text)


def test_reported_error_names_wbadmins_refusal_but_not_no_backups() -> None:
    head = (
        "wbadmin 1.0 - Backup command-line tool\r\n"
        "(C) Copyright Microsoft Corporation. All rights reserved.\r\n\r\n"
    )
    assert reported_error(head + "ERROR - Access is denied.\r\n") == "Access is denied."
    assert reported_error(head + "エラー - アクセスが拒否されました。\r\n") == "アクセスが拒否されました。"
    assert reported_error(head + "ERROR - No backups were found.\r\n") is None
    assert reported_error(head) is None
