"""The remote operations' PowerShell: parses, is PowerShell 2.0 code, and takes values only as parameters.

Every ``.ps1`` under ``clpbackup/transport/remote_ops`` is parsed with tree-sitter-powershell: no
ERROR or MISSING node; none of the PowerShell 3+ constructs a 2003/2008 node would reject; no
string interpolation; every variable it reads is a parameter of its ``param()`` block, a function
parameter, a variable the script assigns itself, or one of a few automatic variables.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

from clpbackup.transport import remote_ops

OPS = remote_ops.available()

# PowerShell 3.0+ (or otherwise forbidden) constructs, as regular expressions on the script text.
FORBIDDEN = {
    "ConvertTo-Json": r"ConvertTo-Json",
    "ConvertFrom-Json": r"ConvertFrom-Json",
    "[ordered]": r"\[ordered\]",
    "::new(": r"::new\(",
    "-in": r"\s-in\s",
    "-notin": r"\s-notin\s",
    "[pscustomobject]": r"\[pscustomobject\]",
    "$PSItem": r"\$PSItem\b",
    "-ErrorAction Ignore": r"-ErrorAction\s+Ignore\b",
    "Invoke-RestMethod": r"Invoke-RestMethod",
    "Get-CimInstance": r"Get-CimInstance",
    "-Raw": r"\s-Raw\b",
    ".ForEach(": r"\.ForEach\(",
    ".Where(": r"\.Where\(",
    "using namespace": r"^\s*using\s+namespace\b",
    "class definition": r"^\s*class\s+\w+",
    "Invoke-Expression": r"Invoke-Expression|\biex\b",
    "ScriptBlock::Create": r"ScriptBlock\]::Create",
    "[NullString]": r"\[NullString\]",
    "-PipelineVariable": r"-PipelineVariable",
}

# Automatic variables the scripts may read without assigning them.
AUTOMATIC = {"$null", "$true", "$false", "$_", "$PSVersionTable", "$env:SystemRoot"}


@cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_powershell.language()))


def _text(name: str) -> str:
    return remote_ops.load(name).text


def _tree(name: str) -> tuple[bytes, Node]:
    data = _text(name).encode("utf-8")
    return data, _parser().parse(data).root_node


def _walk(node: Node):  # type: ignore[no-untyped-def]
    yield node
    for child in node.children:
        yield from _walk(child)


def _code_lines(text: str) -> str:
    """The script without its comment lines (the rules are about code, comments may explain)."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def test_both_operations_are_shipped() -> None:
    assert OPS == ["apply", "inspect"]
    assert (remote_ops.load("inspect").version, remote_ops.load("apply").version) == (1, 1)


@pytest.mark.parametrize("name", OPS)
def test_marker_line_and_ascii(name: str) -> None:
    op = remote_ops.load(name)
    assert op.text.splitlines()[0] == f"# clpbackup-op: {name} v{op.version}" == op.marker
    # ASCII only: the text crosses PSRP as a string, but editors and diffs stay honest.
    op.text.encode("ascii")
    raw = resources.files("clpbackup.transport.remote_ops").joinpath(f"{name}.ps1").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("name", OPS)
def test_parses_without_error_nodes(name: str) -> None:
    data, root = _tree(name)
    problems = [
        (n.type, n.start_point[0] + 1, data[n.start_byte : n.end_byte][:60])
        for n in _walk(root)
        if n.is_error or n.is_missing
    ]
    assert problems == []
    assert not root.has_error


def test_a_broken_script_would_be_caught() -> None:
    # The check above can fail: an unclosed block is an ERROR/MISSING node.
    root = _parser().parse(b"param([string]$A)\nif ($A) {\n  $x = @{ a = 1\n").root_node
    assert root.has_error


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("what", sorted(FORBIDDEN))
def test_no_powershell3_construct(name: str, what: str) -> None:
    code = _code_lines(_text(name))
    found = re.search(FORBIDDEN[what], code, flags=re.IGNORECASE | re.MULTILINE)
    assert found is None, f"{name}.ps1 uses {what}: {found.group(0) if found else ''!r}"


def test_forbidden_patterns_match_what_they_name() -> None:
    samples = {
        "-in": "if ($a -in $b) {}",
        "-notin": "if ($a -notin $b) {}",
        "$PSItem": "$x | % { $PSItem }",
        "::new(": "[Text.StringBuilder]::new()",
        "-Raw": "Get-Content $p -Raw",
        "class definition": "class Foo { }",
        "-ErrorAction Ignore": "Get-Item x -ErrorAction Ignore",
    }
    for what, sample in samples.items():
        assert re.search(FORBIDDEN[what], sample, flags=re.IGNORECASE | re.MULTILINE), what
    # ... and not what they do not name: -Class is a parameter, -Include is not -in.
    assert not re.search(FORBIDDEN["class definition"], "Get-WmiObject -Class Win32_Service", re.M | re.I)
    assert not re.search(FORBIDDEN["-in"], "Get-ChildItem -Include *.bat", re.M | re.I)


def _param_names(data: bytes, root: Node) -> set[str]:
    blocks = [n for n in root.children if n.type == "param_block"]
    assert len(blocks) == 1, "the script has exactly one top-level param() block"
    return {
        data[v.start_byte : v.end_byte].decode()
        for p in _walk(blocks[0])
        if p.type == "script_parameter"
        for v in p.children
        if v.type == "variable"
    }


def _assigned(data: bytes, root: Node) -> set[str]:
    names: set[str] = set()
    for n in _walk(root):
        if n.type == "left_assignment_expression":
            for v in _walk(n):
                if v.type == "variable":
                    names.add(data[v.start_byte : v.end_byte].decode())
        elif n.type == "foreach_statement":
            names.update(data[c.start_byte : c.end_byte].decode() for c in n.children if c.type == "variable")
        elif n.type == "function_parameter_declaration":
            for p in _walk(n):
                if p.type == "script_parameter":
                    names.update(
                        data[c.start_byte : c.end_byte].decode() for c in p.children if c.type == "variable"
                    )
    return names


@pytest.mark.parametrize("name", OPS)
def test_every_variable_comes_from_the_param_block_or_the_script(name: str) -> None:
    data, root = _tree(name)
    params = _param_names(data, root)
    known = {p.lower() for p in params | _assigned(data, root) | AUTOMATIC}
    used = {data[v.start_byte : v.end_byte].decode() for v in _walk(root) if v.type == "variable"}
    unknown = sorted(u for u in used if u.lower() not in known)
    assert unknown == [], f"{name}.ps1 reads variables it neither receives nor assigns: {unknown}"
    # Every parameter is used beyond its declaration (a parameter nobody reads is a contract bug).
    names = [data[v.start_byte : v.end_byte].decode() for v in _walk(root) if v.type == "variable"]
    assert [p for p in params if names.count(p) < 2] == []


@pytest.mark.parametrize("name", OPS)
def test_no_string_interpolation(name: str) -> None:
    data, root = _tree(name)
    interpolating = [
        text
        for n in _walk(root)
        if n.type == "expandable_string_literal"
        for text in [data[n.start_byte : n.end_byte].decode()]
        if "$" in text or any(c.type in ("variable", "sub_expression") for c in _walk(n))
    ]
    here_strings = [n for n in _walk(root) if n.type.startswith("expandable_here_string")]
    assert interpolating == [] and here_strings == []


def test_the_interpolation_check_can_fail() -> None:
    data = b"param([string]$A)\n$x = \"value $A\"\n"
    root = _parser().parse(data).root_node
    strings = [n for n in _walk(root) if n.type == "expandable_string_literal"]
    found = [n for n in strings if any(c.type == "variable" for c in _walk(n))]
    assert found


EXPECTED_PARAMETERS = {
    "inspect": {"$WantFacts", "$HashPaths", "$ReadPaths", "$Programs", "$Arguments", "$ProbeVolumes",
                "$ScriptsDir", "$RecordPath", "$Clpstat", "$CodePage", "$CommandTimeoutSeconds"},
    "apply": {"$WritePaths", "$WriteContents", "$WriteHashes", "$DeletePaths", "$LockedDirectories",
              "$Programs", "$Arguments", "$StopOnError", "$CodePage", "$CommandTimeoutSeconds",
              "$LockPath", "$LockOwner", "$LockSeconds", "$LockWaitSeconds",
              "$GuardPaths", "$GuardHashes", "$GuardPrograms", "$GuardArguments", "$GuardOutputs",
              "$GuardRefuse",
              "$RecordPath", "$RecordLines", "$RecordWhen"},
}


@pytest.mark.parametrize("name", OPS)
def test_parameters_are_the_documented_ones(name: str) -> None:
    data, root = _tree(name)
    assert _param_names(data, root) == EXPECTED_PARAMETERS[name]


@pytest.mark.parametrize("name", OPS)
def test_emits_one_hashtable_with_its_name_and_version(name: str) -> None:
    # The last statement is the result Hashtable literal carrying op and version.
    code = _code_lines(_text(name)).rstrip()
    tail = code[code.rindex("\n@{") :]
    assert f"op = '{name}'" in tail and "version = 1" in tail and tail.endswith("}")


def test_load_refuses_unknown_and_bad_names() -> None:
    with pytest.raises(ValueError, match="no remote operation"):
        remote_ops.load("format_disk")
    with pytest.raises(ValueError, match="not a remote operation name"):
        remote_ops.load("../plan")
