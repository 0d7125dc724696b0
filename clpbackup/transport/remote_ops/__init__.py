"""The named remote operations: fixed PowerShell 2.0 scripts shipped as ``*.ps1`` package data.

Each script's first line is the marker ``# clpbackup-op: <name> v<version>``; the script has a
``param()`` block, receives every value as a pipeline parameter (never spliced into its text) and
emits exactly one Hashtable. The wire contract of each operation is in ``docs/design.md``
("Two remote operations, one pipeline each"). The simulator recognises a script by its marker.

Code the operations share lives in ``_*.ps1`` files; a line ``# clpbackup-include: _native.ps1`` in
an operation is replaced by that file's text when the operation is loaded, so what is sent is still
one self-contained script per pipeline (PSRP 2.1 has no multi-statement pipelines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["MARKER", "RemoteOp", "available", "load"]

#: The first line of every remote operation: ``# clpbackup-op: inspect v1``.
MARKER = re.compile(r"^# clpbackup-op: (?P<name>[a-z][a-z0-9_]*) v(?P<version>[1-9][0-9]*)[ \t]*\r?$")

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_INCLUDE = re.compile(r"^# clpbackup-include: (?P<file>_[a-z0-9_]+\.ps1)[ \t]*\r?$", re.M)


@dataclass(frozen=True)
class RemoteOp:
    """One remote operation: its name, version and the exact script text sent to the node."""

    name: str
    version: int
    text: str

    @property
    def marker(self) -> str:
        """The marker line (``# clpbackup-op: inspect v1``)."""
        return f"# clpbackup-op: {self.name} v{self.version}"

    def __repr__(self) -> str:  # the text is long; show what identifies it
        return f"RemoteOp({self.name!r}, v{self.version}, {len(self.text)} chars)"


def available() -> list[str]:
    """Names of the operations shipped with clpbackup (``['apply', 'inspect']``)."""
    folder = resources.files(__name__)
    return sorted(
        p.name[:-4] for p in folder.iterdir() if p.name.endswith(".ps1") and not p.name.startswith("_")
    )


def _read(filename: str) -> str:
    # utf-8-sig: tolerate a BOM an editor may add; the scripts themselves are ASCII.
    return resources.files(__name__).joinpath(filename).read_bytes().decode("utf-8-sig")


def _expand(text: str) -> str:
    """Replace each include line with the shared file's text (one level: shared files include nothing)."""

    def insert(m: re.Match[str]) -> str:
        shared = _read(m.group("file"))
        if _INCLUDE.search(shared):
            raise ValueError(f"{m.group('file')} includes another file; shared files must not")
        return shared.rstrip("\n")

    return _INCLUDE.sub(insert, text)


@cache
def load(name: str) -> RemoteOp:
    """The operation called ``name``; ``ValueError`` when there is none or its marker is wrong."""
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a remote operation name")
    resource = resources.files(__name__).joinpath(f"{name}.ps1")
    if not resource.is_file():
        raise ValueError(f"no remote operation named {name!r}; clpbackup ships {', '.join(available())}")
    text = _expand(_read(f"{name}.ps1"))
    first = text.split("\n", 1)[0]
    m = MARKER.match(first)
    if m is None or m.group("name") != name:
        raise ValueError(f"{name}.ps1 does not start with the marker line '# clpbackup-op: {name} v<N>'")
    return RemoteOp(name=name, version=int(m.group("version")), text=text)
