"""``python -m clpbackup`` runs the CLI."""

from clpbackup.cli import main

raise SystemExit(main())
