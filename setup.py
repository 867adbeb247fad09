"""Packages for setuptools: one import namespace, ``tunegraph``, over the design card's folders.

The repository keeps agents/, graphs/, tools/, prompts/ and data/ at the top level; installed, they
are tunegraph.agents, tunegraph.graphs, ... Sub-packages are found, not listed, so a new one cannot
silently leave the wheel. Everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup

FOLDERS = {"tunegraph": "tunegraph", "tunegraph.agents": "agents", "tunegraph.graphs": "graphs",
           "tunegraph.tools": "tools", "tunegraph.prompts": "prompts", "tunegraph.data": "data"}

setup(package_dir=FOLDERS,
      packages=[*FOLDERS, *(f"{name}.{sub}" for name, folder in FOLDERS.items()
                            for sub in find_packages(folder) if f"{name}.{sub}" not in FOLDERS)])
