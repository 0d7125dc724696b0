"""The CLUSTERPRO start script: clpbackup's one delimited block in it (FO-1).

clpbackup manages exactly the lines between ``rem >>> clpbackup`` and ``rem <<< clpbackup`` and
leaves every other line of the operator's start script alone. Pure text functions; the bytes are
in the node's OEM code page with CRLF line ends, as cmd.exe reads them.
"""

from __future__ import annotations

BEGIN = "rem >>> clpbackup"
END = "rem <<< clpbackup"


class StartScriptError(ValueError):
    """The start script holds a damaged block (a begin without an end, two blocks …)."""


def _is(line: str, marker: str) -> bool:
    return line.strip().lower().startswith(marker)


def find_block(lines: list[str]) -> tuple[int, int] | None:
    """Indices (begin, end) of clpbackup's block, inclusive; ``None`` when there is none."""
    begins = [i for i, line in enumerate(lines) if _is(line, BEGIN)]
    ends = [i for i, line in enumerate(lines) if _is(line, END)]
    if not begins and not ends:
        return None
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise StartScriptError(
            f"the start script has {len(begins)} '{BEGIN}' and {len(ends)} '{END}' lines; "
            "repair it by hand so that it holds at most one clpbackup block"
        )
    return begins[0], ends[0]


def splice(current: str | None, fragment: str) -> str:
    """The start script text with clpbackup's block replaced by (or appended as) ``fragment``.

    ``fragment`` is the rendered start-fragment (its own begin and end markers included). A missing
    start script (``None``) becomes just the fragment. The block goes where it was, else at the end:
    CLUSTERPRO runs the start script top to bottom and the fragment only acts on ``FAILOVER``.
    """
    frag_lines = fragment.replace("\r\n", "\n").rstrip("\n").split("\n")
    if current is None or current == "":
        return "\r\n".join(frag_lines) + "\r\n"
    text = current.replace("\r\n", "\n")
    had_final_newline = text.endswith("\n")
    lines = text.rstrip("\n").split("\n") if text.strip("\n") else []
    block = find_block(lines)
    if block is None:
        # Before a trailing "exit" the block would never run; put it before the first exit line.
        insert_at = len(lines)
        for i, line in enumerate(lines):
            if line.strip().lower().startswith("exit"):
                insert_at = i
                break
        new_lines = lines[:insert_at] + frag_lines + lines[insert_at:]
    else:
        new_lines = lines[: block[0]] + frag_lines + lines[block[1] + 1 :]
    out = "\r\n".join(new_lines)
    if had_final_newline or block is None:
        out += "\r\n"
    return out


def remove(current: str) -> str:
    """The start script without clpbackup's block (for uninstall)."""
    text = current.replace("\r\n", "\n")
    lines = text.rstrip("\n").split("\n")
    block = find_block(lines)
    if block is None:
        return current
    new_lines = lines[: block[0]] + lines[block[1] + 1 :]
    return "\r\n".join(new_lines) + ("\r\n" if new_lines else "")
