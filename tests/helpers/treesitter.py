"""Syntax checks of generated batch files and PowerShell scripts with tree-sitter grammars.

``batch_errors(text)`` / ``powershell_errors(text)`` parse the text and return the ERROR and
MISSING nodes (empty list = the grammar accepted everything). Each problem says where it is and
shows the line, so an assertion failure is readable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import tree_sitter_batch
import tree_sitter_powershell
from tree_sitter import Language, Node, Parser


@dataclass(frozen=True)
class SyntaxProblem:
    """One ERROR or MISSING node."""

    kind: str  # "ERROR" or "MISSING <type>"
    line: int  # 1-based
    column: int  # 0-based, in bytes
    source_line: str

    def __str__(self) -> str:
        return f"{self.kind} at line {self.line}, column {self.column}: {self.source_line!r}"


@cache
def _parser(name: str) -> Parser:
    module: Any = {"batch": tree_sitter_batch, "powershell": tree_sitter_powershell}[name]
    return Parser(Language(module.language()))


def _problems(parser: Parser, text: str) -> list[SyntaxProblem]:
    data = text.encode("utf-8")
    tree = parser.parse(data)
    lines = text.splitlines()
    found: list[SyntaxProblem] = []

    def walk(node: Node) -> None:
        if node.is_error or node.is_missing:
            row, col = node.start_point
            kind = "ERROR" if node.is_error else f"MISSING {node.type}"
            found.append(SyntaxProblem(kind, row + 1, col, lines[row] if row < len(lines) else ""))
        if node.has_error:
            for child in node.children:
                walk(child)

    walk(tree.root_node)
    return found


def batch_errors(text: str | bytes, encoding: str | None = None) -> list[SyntaxProblem]:
    """ERROR/MISSING nodes of a batch file (``bytes`` are decoded with ``encoding``)."""
    if isinstance(text, bytes):
        text = text.decode(encoding or "ascii")
    return _problems(_parser("batch"), text)


def powershell_errors(text: str | bytes, encoding: str | None = None) -> list[SyntaxProblem]:
    """ERROR/MISSING nodes of a PowerShell script (``bytes`` are decoded with ``encoding``)."""
    if isinstance(text, bytes):
        text = text.decode(encoding or "utf-8-sig")
    return _problems(_parser("powershell"), text)
