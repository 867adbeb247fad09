"""The docs: the generated command reference covers the whole parser, the settings page every Context field,
and the README keeps the two set-up commands that CI runs as written.

The site itself (mkdocs build --strict) is built by .ci/docs, which needs the docs extra; these tests need
only the package.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
from dataclasses import fields
from pathlib import Path

import pytest

from tunegraph.cli.parser import build_parser
from tunegraph.context import Context

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
INSTALL_AND_RUN = "pip install torch==2.13.0 -e . && tunegraph optimize --dataset breast_cancer --trials 20"
RUN_TESTS = "pip install -e '.[test]' && python -m pytest -q"


def _load_gen_cli():
    spec = importlib.util.spec_from_file_location("tunegraph_docs_gen_cli", ROOT / "docs" / "gen_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_cli = _load_gen_cli()


def every_command(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()):
    """(words, parser) of each sub-command, walked here on its own, not with the generator's walker."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield (*words, name), child
                yield from every_command(child, (*words, name))


def sections(page: str) -> dict[str, str]:
    """command words -> its part of the page (from its heading to the next command's)."""
    heads = list(re.finditer(r"^#{2,} `tunegraph ([a-z -]+)` \{ #[\w-]+ \}$", page, flags=re.M))
    return {m.group(1): page[m.end(): heads[i + 1].start() if i + 1 < len(heads) else len(page)]
            for i, m in enumerate(heads)}


@pytest.fixture(scope="module")
def cli_page() -> str:
    return gen_cli.render_cli()


def test_reference_has_every_command_and_option(cli_page):
    parts = sections(cli_page)
    commands = list(every_command(build_parser()))
    assert {"optimize", "predict", "recommend", "chat", "studio", "dashboard", "plot", "metadata",
            "metadata build", "metadata add"} <= {" ".join(w) for w, _ in commands}
    for words, parser in commands:
        name = " ".join(words)
        assert name in parts, f"no section for 'tunegraph {name}'"
        section = parts[name]
        assert f"usage: tunegraph {name}" in section
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            for option in action.option_strings or [action.dest]:
                assert f"`{option}`" in section, f"'tunegraph {name}' section lacks {option}"
    assert len(parts) == len(commands), "a section for a command the parser does not have"


def test_reference_help_is_the_parsers(cli_page):
    """Each option's help as --help prints it, defaults filled in (argparse's own expansion)."""
    with gen_cli.shipped_defaults():  # as the page is made: no TUNEGRAPH_* default of this shell
        optimize = dict(every_command(build_parser()))[("optimize",)]
    formatter = optimize._get_formatter()
    section = sections(cli_page)["optimize"]
    for action in optimize._actions:
        if action.option_strings and action.help and not isinstance(action, argparse._HelpAction):
            expected = " ".join(formatter._expand_help(action).split())
            assert gen_cli.cell(expected) in section, action.option_strings


def test_reference_shows_shipped_defaults(monkeypatch, cli_page):
    monkeypatch.setenv("TUNEGRAPH_TRIALS", "7")
    monkeypatch.setenv("TUNEGRAPH_LLM", "none")
    assert gen_cli.render_cli() == cli_page
    assert "(default: 20)" in sections(cli_page)["optimize"]


def test_settings_page_has_every_context_field():
    page = gen_cli.render_settings()
    for spec in fields(Context):
        assert f"| `{spec.name}` |" in page, spec.name
    options = {o for _, p in every_command(build_parser()) for a in p._actions for o in a.option_strings}
    for name, option in gen_cli.OPTIONS.items():
        assert name in {f.name for f in fields(Context)}, name
        assert option in options, f"{option} (for {name}) is not an option of the parser"


def test_write_and_check(tmp_path, monkeypatch):
    pages = {"cli": tmp_path / "reference" / "cli.md", "settings": tmp_path / "reference" / "settings.md"}
    monkeypatch.setattr(gen_cli, "PAGES", pages)
    assert gen_cli.main(["--check"]) == 1
    assert gen_cli.main([]) == 0
    assert all(path.is_file() for path in pages.values())
    assert gen_cli.main(["--check"]) == 0


def test_readme_keeps_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    assert INSTALL_AND_RUN in text
    assert RUN_TESTS in text
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert INSTALL_AND_RUN in ci and RUN_TESTS in ci, ".ci/run must run the README's commands as written"


def test_readme_links_resolve():
    text = README.read_text(encoding="utf-8")
    links = [link.split("#")[0] for link in re.findall(r"\]\(([^)\s]+)\)", text)]
    local = [link for link in links if link and not re.match(r"[a-z]+:", link)]
    assert any(link.startswith("docs/") for link in local)
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"


def test_readme_is_short():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 300
