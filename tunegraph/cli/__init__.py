"""The ``tunegraph`` command line: one module per command, imported only when that command runs.

    tunegraph optimize --dataset breast_cancer --trials 20
    tunegraph optimize --data houses.csv --target price --model random_forest
    tunegraph predict --model .tunegraph/models/<study>.tgm --data new_houses.csv

Every error TuneGraph raises on purpose (``tunegraph.errors``) ends here, in :func:`main`, as one
plain line and its exit code: 2 for the user's input, 1 for the environment. Anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from importlib import import_module

from tunegraph.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, TuneGraphError, exit_code

# command -> module of tunegraph.cli with ``run(args) -> int``
COMMANDS = {"optimize": "optimize", "predict": "predict", "recommend": "recommend", "chat": "chat",
            "studio": "studio", "dashboard": "dashboard", "plot": "plot", "metadata": "metadata"}


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code."""
    try:
        from tunegraph.cli.parser import build_parser

        parser = build_parser()  # reads TUNEGRAPH_<FIELD> defaults: a bad one is an input error
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return EXIT_BAD_INPUT
        return import_module(f"tunegraph.cli.{COMMANDS[args.command]}").run(args)
    except KeyboardInterrupt:  # before a run's own handling starts (loading data, the LLM): no traceback
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except TuneGraphError as exc:
        return fail(exc)


def fail(error: TuneGraphError) -> int:
    """Say the error in one line on stderr; return its exit code."""
    from tunegraph.context import ContextError

    message = str(error)
    if isinstance(error, ContextError) and error.setting:  # a setting is an option here: name it so
        message = error.named(option_name(error.setting))
    print(f"tunegraph: error: {message}", file=sys.stderr)
    return exit_code(error)


# Context fields whose command-line option is not --<field with dashes>
OPTIONS = {"confirm_above_s": "--confirm-above"}


def option_name(setting: str) -> str:
    return OPTIONS.get(setting, "--" + setting.replace("_", "-"))
