"""A griffe extension (mkdocs.yml, the python handler's ``extensions``): docstrings written for the terminal
and for Sphinx read right as Markdown in the API reference.

* Sphinx roles become code: ``:func:`recommend``` -> ``recommend`` in backticks, and
  ``:class:`~tunegraph.context.Context``` -> ``Context``.
* A ``<word>`` outside code (``TUNEGRAPH_<FIELD>``, ``ollama:<model>``) is text, not an HTML tag that the
  browser would swallow.

The source files are not changed; only what the site shows.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:func|class|meth|attr|mod|obj|exc|data|const):`~?([^`]+)`")
CODE = re.compile(r"(`+)(.+?)\1")
TAG = re.compile(r"<(?=[A-Za-z_/])")


def _role(match: re.Match) -> str:
    target = match.group(1)
    shown = target.rsplit(".", 1)[-1] if match.group(0).split("`", 1)[1].startswith("~") else target
    return f"`{shown}`"


def _line(line: str) -> str:
    if line.lstrip().startswith((">>>", "...")):
        return line
    parts, last = [], 0
    for match in CODE.finditer(line):
        parts.append(TAG.sub("&lt;", line[last:match.start()]))
        parts.append(match.group(0))
        last = match.end()
    parts.append(TAG.sub("&lt;", line[last:]))
    return "".join(parts)


def markdown(text: str) -> str:
    """The docstring with roles as code spans and bare ``<word>`` escaped, fenced blocks left alone."""
    out, fenced = [], False
    for line in ROLE.sub(_role, text).split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            out.append(line)
        else:
            out.append(line if fenced else _line(line))
    return "\n".join(out)


class MarkdownDocstrings(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs) -> None:
        seen: set[int] = set()

        def walk(obj: griffe.Object) -> None:
            if id(obj) in seen:
                return
            seen.add(id(obj))
            if obj.docstring is not None:
                obj.docstring.value = markdown(obj.docstring.value)
            for member in obj.members.values():
                if not member.is_alias:
                    walk(member)

        walk(pkg)
