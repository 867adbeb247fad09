"""``tunegraph studio``: the LangGraph API server (``langgraph dev``) on loopback, offline, for Studio."""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys

from tunegraph.errors import InputError
from tunegraph.tools.meta.metadataset import shipped_data_dir


def run(args: argparse.Namespace) -> int:
    return main_studio(args.host, args.port, args.browser)


def main_studio(host: str, port: int, open_browser: bool) -> int:
    """``langgraph dev`` on loopback with version checks, analytics and tracing off (offline)."""
    config = shipped_data_dir() / "langgraph.json"  # package data: works from a wheel as from a checkout
    if not config.is_file():
        raise InputError(f"{config} is missing: reinstall TuneGraph")
    if importlib.util.find_spec("langgraph_cli") is None or importlib.util.find_spec("langgraph_api") is None:
        raise InputError("the LangGraph CLI is missing: pip install 'tunegraph[studio]' "
                         "(from a checkout: pip install -e '.[studio]')")
    env = {**os.environ, "LANGGRAPH_NO_VERSION_CHECK": "true", "LANGGRAPH_CLI_NO_ANALYTICS": "1",
           "LANGSMITH_TRACING": "false", "LANGCHAIN_TRACING_V2": "false"}
    command = [sys.executable, "-m", "langgraph_cli", "dev", "--config", str(config), "--host", host,
               "--port", str(port), "--no-reload"]
    if not open_browser:
        command.append("--no-browser")
    print(f"Starting the LangGraph API server on http://{host}:{port} (graphs: optimize, recommend, chat).\n"
          f"Open Studio at https://smith.langchain.com/studio/?baseUrl=http://{host}:{port} "
          "(the page runs in your browser and talks to this local server).", file=sys.stderr)
    server = subprocess.Popen(command, env=env)

    def stop(signum, frame):  # a `kill` of tunegraph studio stops the server too, instead of orphaning it
        server.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        server.wait(timeout=30)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
