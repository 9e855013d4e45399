"""``python -m dlplayground``: the same CLI as the ``dlplayground`` command."""

from dlplayground.cli import main

raise SystemExit(main())
