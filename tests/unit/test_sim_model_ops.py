"""The Python twins of the remote operations inspect v1 / apply v1 on the simulated node."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from clpbackup.testing.backend import ScriptOutcome
from clpbackup.testing.model import ClusterInfo, SimulatedWindows, Volume

OPS = Path(__file__).resolve().parents[2] / "clpbackup" / "transport" / "remote_ops"
INSPECT = (OPS / "inspect.ps1").read_text(encoding="utf-8")
APPLY = (OPS / "apply.ps1").read_text(encoding="utf-8")


def node(**kw: object) -> SimulatedWindows:
    info = ClusterInfo("prod", "failover1", ["node-a", "node-b"], owner=lambda: "node-a")
    return SimulatedWindows(
        "node-a", "2008R2", volumes=[Volume("E:")], cluster=info, switchover_volumes=["E:"], **kw
    )  # type: ignore[arg-type]


def one(outcome: ScriptOutcome) -> dict:  # type: ignore[type-arg]
    assert outcome.errors == []
    assert len(outcome.output) == 1
    result = outcome.output[0]
    assert isinstance(result, dict)
    return result


def test_inspect_facts_files_commands() -> None:
    n = node()
    n.write_file("C:\\clp\\a.bat", b"@echo off\r\n")
    out = one(
        n.invoke_script(
            INSPECT,
            {
                "WantFacts": True,
                "HashPaths": ["C:\\clp\\a.bat", "C:\\clp\\missing.bat"],
                "ReadPaths": ["C:\\clp\\a.bat"],
                "Programs": ["hostname", "schtasks", "nosuch"],
                "Arguments": ["", "/Query /TN nope", ""],
                "ProbeVolumes": ["E:", "F:"],
                "ScriptsDir": "C:\\clp",
                "Clpstat": True,
                "CodePage": 0,
                "CommandTimeoutSeconds": 60,
            },
            [],
        )
    )
    assert out["op"] == "inspect" and out["version"] == 1
    facts = out["facts"]
    assert (
        facts["hostname"] == "NODE-A" and facts["os_version"] == "6.1.7601" and facts["ps_version"] == "2.0"
    )
    assert facts["volumes"] == [
        {"letter": "C:", "present": True, "writable": True},
        {"letter": "E:", "present": True, "writable": True},
        {"letter": "F:", "present": False, "writable": False},
    ]
    assert (facts["schedule_start_mode"], facts["schedule_state"], facts["wsb_installed"]) == (
        "Auto",
        "Running",
        True,
    )
    assert facts["scripts_dir_exists"] is True
    assert "current        : node-a" in facts["clpstat"]
    files = out["files"]
    assert [f["path"] for f in files] == ["C:\\clp\\a.bat", "C:\\clp\\missing.bat"]
    assert files[0]["sha256"] == hashlib.sha256(b"@echo off\r\n").hexdigest()
    assert base64.b64decode(files[0]["content_base64"]) == b"@echo off\r\n"
    assert files[1] == {"path": "C:\\clp\\missing.bat", "sha256": None, "content_base64": None, "error": None}
    cmds = out["commands"]
    assert [c["rc"] for c in cmds] == [0, 1, 9009]
    assert cmds[0]["stdout"] == "NODE-A\r\n"
    assert cmds[1]["stderr"] == "ERROR: The system cannot find the file specified.\r\n"
    assert cmds[2]["stderr"] == "The system cannot find the file specified"
    assert n.not_simulated  # the unknown program is recorded


def test_inspect_on_2003_and_without_clpstat() -> None:
    n = SimulatedWindows("old", "2003", codepage=932, clpstat=False)
    facts = one(n.invoke_script(INSPECT, {"WantFacts": True, "Clpstat": True}, []))["facts"]
    assert facts["wsb_installed"] is None and facts["clpstat"] is None and facts["oem_codepage"] == 932
    assert facts["scripts_dir_exists"] is None


def test_inspect_decodes_with_the_requested_code_page() -> None:
    n = SimulatedWindows("jp", "2012", codepage=932)
    args = {"WantFacts": False, "Programs": ["schtasks"], "Arguments": ["/Query /TN nope"]}
    good = one(n.invoke_script(INSPECT, {**args, "CodePage": 932}, []))["commands"][0]
    assert good["stderr"] == "エラー: 指定されたファイルが見つかりません。\r\n"
    wrong = one(n.invoke_script(INSPECT, {**args, "CodePage": 437}, []))["commands"][0]
    assert wrong["stderr"] != good["stderr"]


def test_apply_writes_atomically_and_skips_equal_files() -> None:
    n = node()
    data = b"@echo off\r\nexit /b 0\r\n"
    params = {
        "WritePaths": ["C:\\clp\\x.bat"],
        "WriteContents": [base64.b64encode(data).decode()],
        "WriteHashes": [hashlib.sha256(data).hexdigest()],
        "DeletePaths": ["C:\\clp\\old.bat"],
        "Programs": ["cmd"],
        "Arguments": ['/c "C:\\clp\\x.bat"'],
        "StopOnError": True,
    }
    n.write_file("C:\\clp\\old.bat", "x")
    out = one(n.invoke_script(APPLY, params, []))
    assert out["files"] == [
        {"path": "C:\\clp\\x.bat", "changed": True, "sha256": hashlib.sha256(data).hexdigest(), "error": None}
    ]
    assert out["deleted"] == ["C:\\clp\\old.bat"] and out["delete_errors"] == []
    assert out["commands"][0]["rc"] == 0 and out["commands"][0]["ran"] is True
    assert n.fs.read_bytes("C:\\clp\\x.bat") == data and not n.fs.exists("C:\\clp\\x.bat.clpbackup-tmp")
    again = one(n.invoke_script(APPLY, {**params, "DeletePaths": [], "Programs": []}, []))
    assert again["files"][0]["changed"] is False


def test_apply_failed_write_stops_the_commands() -> None:
    n = node()
    data = b"x"
    out = one(
        n.invoke_script(
            APPLY,
            {
                "WritePaths": ["Q:\\nowhere\\x.bat", "C:\\ok.bat"],
                "WriteContents": [base64.b64encode(data).decode()] * 2,
                "WriteHashes": [hashlib.sha256(data).hexdigest(), "00" * 32],
                "Programs": ["hostname"],
                "Arguments": [""],
                "StopOnError": True,
            },
            [],
        )
    )
    assert out["files"][0]["error"] == "Could not find a part of the path 'Q:\\nowhere'."
    assert out["files"][1]["error"] == "the content received does not match its SHA-256; nothing was written"
    assert out["commands"] == [
        {
            "index": 0,
            "program": "hostname",
            "arguments": "",
            "rc": None,
            "stdout": "",
            "stderr": "",
            "ran": False,
        }
    ]


def test_unknown_script_is_not_simulated() -> None:
    n = node()
    outcome = n.invoke_script("Get-Process", {}, [])
    assert outcome.output == [] and outcome.errors[0].startswith("not simulated:")
    outcome = n.invoke_script("# clpbackup-op: inspect v9\nparam()", {}, [])
    assert "inspect v9" in outcome.errors[0]
    assert len(n.not_simulated) == 2


def test_inspect_hashes_every_file_the_record_lists_and_reads_its_canaries() -> None:
    """OWN-1: with RecordPath the twin (like inspect.ps1) hashes each file line's path and reads each
    canary line's, besides what was asked for; JSON escapes (a non-ASCII path) are undone."""
    from clpbackup.record import canary_line, file_line, header_line, record_bytes

    n = node()
    old = "C:\\clp\\gone-job.bat"
    accented = "C:\\clp\\café.bks"
    n.write_file(old, b"@echo off\r\n")
    n.write_file(accented, b"x")
    n.write_file("E:\\canary.txt", b"clpbackup-canary 1\r\n")
    lines = [
        header_line("prod").text,
        file_line(old, "0" * 64).text,
        file_line(accented, "1" * 64).text,
        file_line("C:\\clp\\missing.bat", "2" * 64).text,
        canary_line("E:\\canary.txt").text,
        '{"kind": "task", "name": "t", "run": "C:\\\\clp\\\\not-a-file.bat", "at": "01:00"}',
    ]
    assert "\\u00e9" in lines[2]
    n.write_file("C:\\clp\\clpbackup-record.jsonl", record_bytes(lines))
    out = one(
        n.invoke_script(
            INSPECT,
            {
                "WantFacts": False,
                "HashPaths": ["C:\\clp\\a.bat"],
                "RecordPath": "C:\\clp\\clpbackup-record.jsonl",
            },
            [],
        )
    )
    files = {f["path"]: f for f in out["files"]}
    record = "C:\\clp\\clpbackup-record.jsonl"
    assert list(files) == ["C:\\clp\\a.bat", record, old, accented, "C:\\clp\\missing.bat", "E:\\canary.txt"]
    assert files[old]["sha256"] == hashlib.sha256(b"@echo off\r\n").hexdigest()
    assert files[old]["content_base64"] is None
    assert files[accented]["sha256"] == hashlib.sha256(b"x").hexdigest()
    assert files["C:\\clp\\missing.bat"]["sha256"] is None
    assert base64.b64decode(files["E:\\canary.txt"]["content_base64"]) == b"clpbackup-canary 1\r\n"
    assert base64.b64decode(files["C:\\clp\\clpbackup-record.jsonl"]["content_base64"]) == record_bytes(lines)


def test_apply_keeps_the_record_line_of_a_delete_that_fails() -> None:
    """OWN-1 ``notdeleted:i``: a file another process holds open (sharing reading only) cannot be
    deleted (.NET's IOException text); its line stays, the line of the one deleted goes, and reading
    the held file still works."""
    n = node()
    n.write_file("C:\\clp\\held.bat", b"a")
    n.write_file("C:\\clp\\free.bat", b"b")
    n.fs.hold_open("C:\\clp\\held.bat")
    out = one(
        n.invoke_script(
            APPLY,
            {
                "DeletePaths": ["C:\\clp\\held.bat", "C:\\clp\\free.bat"],
                "RecordPath": "C:\\clp\\record.jsonl",
                "RecordLines": ['{"kind": "record"}', '{"n": 0}', '{"n": 1}'],
                "RecordWhen": ["", "notdeleted:0", "notdeleted:1"],
                "StopOnError": False,
            },
            [],
        )
    )
    assert out["deleted"] == ["C:\\clp\\free.bat"]
    assert out["delete_errors"] == [
        {
            "path": "C:\\clp\\held.bat",
            "error": "The process cannot access the file 'C:\\clp\\held.bat' because it is being used "
            "by another process.",
        }
    ]
    assert n.fs.read_bytes("C:\\clp\\record.jsonl") == b'{"kind": "record"}\r\n{"n": 0}\r\n'
    assert n.fs.read_bytes("C:\\clp\\held.bat") == b"a"
    _, _, err = n.run_command_line("del /q C:\\clp\\held.bat")
    assert b"being used by another process" in err and n.fs.is_file("C:\\clp\\held.bat")
    n.fs.release("C:\\clp\\held.bat")
    assert n.run_command_line("del /q C:\\clp\\held.bat")[0] == 0 and not n.fs.is_file("C:\\clp\\held.bat")
