"""``python -m eokg`` is the ``eokg`` command."""

from eokg.cli import main

raise SystemExit(main())
