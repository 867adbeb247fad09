"""``tunegraph dashboard``: optuna-dashboard over TuneGraph's studies, on loopback."""

from __future__ import annotations

import argparse
import sys

from optuna_dashboard import run_server

from tunegraph.errors import EXIT_OK
from tunegraph.tools.trials.runs import default_storage
from tunegraph.tools.trials.storage import is_journal, mask_url, open_spec


def run(args: argparse.Namespace) -> int:
    storage = args.storage or default_storage()
    print(f"optuna-dashboard for {mask_url(storage)} on http://{args.host}:{args.port}/dashboard "
          "(Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        # a URL as it is (optuna-dashboard opens it); a journal file as the storage object
        run_server(open_spec(storage) if is_journal(storage) else storage, host=args.host, port=args.port)
    except KeyboardInterrupt:
        pass
    return EXIT_OK
