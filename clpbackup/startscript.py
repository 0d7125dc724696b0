"""The CLUSTERPRO start script: clpbackup's one delimited block in it (FO-1).

clpbackup manages exactly the lines between ``rem >>> clpbackup`` and ``rem <<< clpbackup`` and
leaves every other byte of the operator's start script alone. Everything here works on bytes: the
script is in the node's OEM code page, and a decode/encode round trip is not the identity there
(cp932 has duplicate codes: ``FA 4A`` decodes to U+2160, which encodes back as ``87 54``). Lines end
at LF, as cmd.exe reads them; each line keeps its own ending (CRLF, LF). Pure functions.

Where the block goes: cmd.exe runs a start script top to bottom, and the operator's lines branch
(``IF … GOTO``), leave (``EXIT``, ``EXIT /B`` in an error branch) or hand control to another batch
file without ``call`` (which never returns). The only place every run passes is before the first
line that does anything: after the leading blank, ``@echo off`` and comment lines.
"""

from __future__ import annotations

import re
from typing import Literal

BEGIN = "rem >>> clpbackup"
END = "rem <<< clpbackup"

_BEGIN = BEGIN.encode("ascii")
_END = END.encode("ascii")
_BLANKS = b" \t\r\n"
#: lines that do nothing and may stay above the block: blank, ``[@]echo off``, ``[@]rem …``, ``::…``
_INERT = re.compile(rb"^@*\s*(?:$|echo\s+off\s*$|rem(?:$|\s)|::)", re.IGNORECASE)

BlockState = Literal["ok", "missing", "outdated", "misplaced"]


class StartScriptError(ValueError):
    """The start script holds a damaged block (a begin without an end, two blocks …)."""


def split_lines(data: bytes) -> list[bytes]:
    """The lines of ``data``, each with its own line end (the last one may have none).

    Lines end at LF only (a lone CR stays inside its line, as cmd.exe reads it)."""
    parts = data.split(b"\n")
    out = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def _is(line: bytes, marker: bytes) -> bool:
    return line.strip(_BLANKS).lower().startswith(marker)


def find_block(lines: list[bytes]) -> tuple[int, int] | None:
    """Indices (begin, end) of clpbackup's block, inclusive; ``None`` when there is none."""
    begins = [i for i, line in enumerate(lines) if _is(line, _BEGIN)]
    ends = [i for i, line in enumerate(lines) if _is(line, _END)]
    if not begins and not ends:
        return None
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise StartScriptError(
            f"the start script has {len(begins)} '{BEGIN}' and {len(ends)} '{END}' lines; "
            "repair it by hand so that it holds at most one clpbackup block"
        )
    return begins[0], ends[0]


def insertion_point(lines: list[bytes]) -> int:
    """Index of the first line that is not blank, ``@echo off`` or a comment: the block goes there."""
    for i, line in enumerate(lines):
        if not _INERT.match(line.strip(_BLANKS)):
            return i
    return len(lines)


def _without_block(current: bytes) -> tuple[list[bytes], tuple[int, int] | None]:
    lines = split_lines(current)
    block = find_block(lines)
    if block is not None:
        del lines[block[0] : block[1] + 1]
    return lines, block


def _ended(fragment: bytes) -> bytes:
    return fragment if fragment.endswith(b"\n") else fragment + b"\r\n"


def splice(current: bytes | None, fragment: bytes) -> bytes:
    """The start script with clpbackup's block (``fragment``, markers included) where every run passes.

    An existing block is taken out and the fragment goes before the first line that does anything
    (see the module docstring); every other byte stays as it was. A missing or empty start script
    becomes just the fragment. Raises :class:`StartScriptError` for a damaged block.
    """
    frag = _ended(fragment)
    if not current:
        return frag
    lines, _ = _without_block(current)
    at = insertion_point(lines)
    if at and not lines[at - 1].endswith(b"\n"):
        # only when the script is nothing but comments without a final line end
        lines[at - 1] += b"\r\n"
    return b"".join(lines[:at]) + frag + b"".join(lines[at:])


def remove(current: bytes) -> bytes:
    """The start script without clpbackup's block (for uninstall); other bytes unchanged."""
    lines, block = _without_block(current)
    return current if block is None else b"".join(lines)


def block_state(current: bytes, fragment: bytes) -> BlockState:
    """How the start script holds the block: ``ok`` (this fragment, where every run passes),
    ``missing``, ``outdated`` (other lines than ``fragment``) or ``misplaced`` (after a line that
    may branch or exit, so a FAILOVER run may never reach it). Raises :class:`StartScriptError`."""
    lines = split_lines(current)
    block = find_block(lines)
    if block is None:
        return "missing"
    held = [line.rstrip(_BLANKS) for line in lines[block[0] : block[1] + 1]]
    if held != [line.rstrip(_BLANKS) for line in split_lines(_ended(fragment))]:
        return "outdated"
    if insertion_point(lines[: block[0]]) != block[0]:
        return "misplaced"
    return "ok"
