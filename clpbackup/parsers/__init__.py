"""Tool output → typed records, for en-US and ja-JP nodes. Pure code, no I/O.

Every public function takes ``str`` (decode node bytes first with :func:`decode`, giving the node's
OEM code page: 932 ja-JP, 437 en-US; a BOM wins) and returns frozen dataclasses, or raises
:class:`clpbackup.errors.ParseError` — never ``IndexError``/``ValueError``/``KeyError`` — for text it
does not recognise. Each module's docstring describes the exact formats it reads (what is captured
from real output and what is assumed), so the simulator can print the same.

=====================  ===========================================================================
module                 reads
=====================  ===========================================================================
:mod:`.wbadmin`        ``wbadmin get versions``, ``wbadmin start backup`` (2008, 2008 R2, 2012)
:mod:`.schtasks`       ``schtasks /query /fo csv|list /v`` (2003 and 2008+ column sets),
                       ``/query /xml``, messages of ``/create`` ``/run`` ``/delete`` ``/end``
:mod:`.at`             ``at`` listing, ``at <id>``, ``at … `` creation message
:mod:`.ntbackup`       NTBackup log files (UTF-16 LE), 2003
:mod:`.clpstat`        ``clpstat`` cluster status frame (CLUSTERPRO X)
:mod:`.common`         :func:`decode`, line splitting, clock and date values
=====================  ===========================================================================
"""

from __future__ import annotations

from clpbackup.parsers import at, clpstat, common, ntbackup, schtasks, wbadmin
from clpbackup.parsers.at import AtJob, parse_at_created, parse_at_job, parse_at_list
from clpbackup.parsers.clpstat import (
    ClpEntry,
    ClpGroup,
    ClpServer,
    ClusterStatus,
    group_current,
    group_owner,
    parse_clpstat,
)
from clpbackup.parsers.common import decode, split_lines
from clpbackup.parsers.ntbackup import NtbackupLog, NtbackupSet
from clpbackup.parsers.ntbackup import parse_log as parse_ntbackup_log
from clpbackup.parsers.schtasks import (
    ScheduledTask,
    SchtasksMessage,
    SchtasksOutcome,
    TaskTrigger,
    parse_create_output,
    parse_delete_output,
    parse_end_output,
    parse_query_csv,
    parse_query_list,
    parse_query_xml,
    parse_run_output,
)
from clpbackup.parsers.wbadmin import (
    BackupSummary,
    BackupVersion,
    VolumeResult,
    parse_backup_summary,
    parse_version_id,
    parse_versions,
)

__all__ = [
    "AtJob",
    "BackupSummary",
    "BackupVersion",
    "ClpEntry",
    "ClpGroup",
    "ClpServer",
    "ClusterStatus",
    "NtbackupLog",
    "NtbackupSet",
    "ScheduledTask",
    "SchtasksMessage",
    "SchtasksOutcome",
    "TaskTrigger",
    "VolumeResult",
    "at",
    "clpstat",
    "common",
    "decode",
    "group_current",
    "group_owner",
    "ntbackup",
    "parse_at_created",
    "parse_at_job",
    "parse_at_list",
    "parse_backup_summary",
    "parse_clpstat",
    "parse_create_output",
    "parse_delete_output",
    "parse_end_output",
    "parse_ntbackup_log",
    "parse_query_csv",
    "parse_query_list",
    "parse_query_xml",
    "parse_run_output",
    "parse_version_id",
    "parse_versions",
    "schtasks",
    "split_lines",
    "wbadmin",
]
