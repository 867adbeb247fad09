"""Prompt templates, one file per agent; fields are written ``$name`` (string.Template).

Example:
    >>> text = render("optimizer", task="...", space="...", history="...", metric="roc_auc",
    ...               direction="maximize", family="xgboost", example="{}")   # doctest: +SKIP
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template

if __name__ != "tunegraph.prompts":  # from the repository root, "import prompts" would load a second copy of every module
    raise ImportError("import tunegraph.prompts, not prompts: the repository's top-level folders are tunegraph's sub-packages")


@cache
def load(name: str) -> Template:
    """The template ``prompts/<name>.md``; raises FileNotFoundError naming the file."""
    path = resources.files(__package__) / f"{name}.md"
    if not path.is_file():
        raise FileNotFoundError(f"no prompt template named '{name}' ({path})")
    return Template(path.read_text(encoding="utf-8"))


def render(name: str, **fields: object) -> str:
    """Fill a template; a missing field raises KeyError naming it."""
    return load(name).substitute({k: str(v) for k, v in fields.items()})
