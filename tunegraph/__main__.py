"""``python -m tunegraph``: the same command line as the ``tunegraph`` script."""

from tunegraph.graphs.cli import main

raise SystemExit(main())
