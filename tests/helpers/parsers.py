"""Helpers shared by the parser tests: fixture loading and a Hypothesis strategy that mutates text.

Fixtures live in ``tests/fixtures/<tool>/<os>-<locale>/``, stored in the encoding the tool prints:
ja-JP console output as cp932, en-US console output as cp437, ntbackup logs and schtasks XML as
UTF-16 LE with a BOM.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hypothesis import strategies as st

from clpbackup.parsers.common import decode

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_bytes(tool: str, where: str, name: str) -> bytes:
    """The stored bytes of fixture ``tests/fixtures/<tool>/<where>/<name>``."""
    return (FIXTURES / tool / where / name).read_bytes()


def codepage_of(where: str) -> int:
    """The OEM code page of a fixture folder such as ``2012-ja-JP``."""
    return 932 if where.endswith("ja-JP") else 437


def fixture_text(tool: str, where: str, name: str) -> str:
    """Fixture decoded the way the transport decodes node output (OEM code page, BOM wins)."""
    return decode(fixture_bytes(tool, where, name), codepage_of(where))


def all_fixtures(tool: str, pattern: str = "*") -> list[tuple[str, str]]:
    """``(where, name)`` of every fixture of ``tool`` whose file name matches ``pattern``."""
    return sorted(
        (path.parent.name, path.name) for path in (FIXTURES / tool).glob(f"*/{pattern}") if path.is_file()
    )


# Characters that matter to the parsers: separators, digits, colons, quotes, line breaks, the
# ideographic space, Japanese text, and characters str.splitlines() would treat as line breaks.
_PIECES = [*"0123456789:/-.,()\\\" \t\r\n*=<>_%xXAPM"]
_PIECES += ["　", "午前", "午後", "、", "：", "\x85", "\u2028", "エラー"]
_NOISE = st.lists(st.sampled_from(_PIECES), max_size=12).map("".join)


@st.composite
def mutated(draw: Callable[..., object], text: str) -> str:
    """``text`` after 1-4 random edits: truncation, deletion, insertion, replacement, line edits."""
    ops = draw(
        st.lists(
            st.sampled_from(["truncate", "delete", "insert", "replace", "dup", "drop", "swap"]),
            min_size=1,
            max_size=4,
        )
    )
    for op in ops:
        assert isinstance(op, str)
        n = len(text)
        if op in ("truncate", "delete", "insert", "replace"):
            i = draw(st.integers(0, n))
            j = draw(st.integers(i, n))
            noise = draw(_NOISE)
            assert isinstance(i, int) and isinstance(j, int) and isinstance(noise, str)
            if op == "truncate":
                text = text[:i]
            elif op == "delete":
                text = text[:i] + text[j:]
            elif op == "insert":
                text = text[:i] + noise + text[i:]
            else:
                text = text[:i] + noise + text[j:]
        else:
            lines = text.split("\n")
            if not lines:
                continue
            k = draw(st.integers(0, len(lines) - 1))
            m = draw(st.integers(0, len(lines) - 1))
            assert isinstance(k, int) and isinstance(m, int)
            if op == "dup":
                lines.insert(k, lines[m])
            elif op == "drop":
                del lines[k]
            else:
                lines[k], lines[m] = lines[m], lines[k]
            text = "\n".join(lines)
    return text
