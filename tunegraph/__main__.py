"""``python -m tunegraph``: the same command line as the ``tunegraph`` script."""

from tunegraph.cli import main

raise SystemExit(main())
