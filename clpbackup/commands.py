"""Commands are data (ARCHITECTURE decision 1).

A :class:`Command` is an argv list plus the Windows version it targets and the plan field its
user-supplied values came from. Rendering it to a cmd.exe command line or a batch-file line happens
in :mod:`clpbackup.winquote`, in one place; no f-string ever builds a command line from user values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """A native program invocation on a node.

    ``argv[0]`` is the program (``wbadmin``, ``schtasks``, ``at``, ``ntbackup``, ``rsm``, ``cmd`` …),
    the rest its arguments exactly as the program must receive them (after CommandLineToArgvW).
    ``os`` is the node's Windows version (``2003`` … ``2012``). ``field`` names the plan field the
    values came from, for error messages. ``raw_tail`` is set only for programs that do not parse
    their command line with the MSVCRT rules (``rsm`` ``/LF"name"``, ``cmd /c``): the exact text
    that follows the program name.
    """

    argv: tuple[str, ...]
    os: str
    field: str | None = None
    # (plain default: inside the class body the name ``field`` is the attribute above, not dataclasses.field)
    raw_tail: str | None = None

    def __post_init__(self) -> None:
        if not self.argv:
            raise ValueError("a Command needs at least the program name")

    @property
    def program(self) -> str:
        """The program name (``argv[0]``)."""
        return self.argv[0]

    def command_line(self) -> str:
        """The cmd.exe / CreateProcess command line (see :func:`clpbackup.winquote.command_line`)."""
        from clpbackup.winquote import command_line

        return command_line(self)

    def batch_line(self, codepage: int) -> str:
        """The line that runs this command in a batch file (``%`` doubled, metacharacters escaped)."""
        from clpbackup.winquote import batch_line

        return batch_line(self, codepage=codepage)

    def __str__(self) -> str:
        return self.command_line()
