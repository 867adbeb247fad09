"""MkDocs hooks (mkdocs.yml ``hooks:``): the site shows the repository's own reports, not copies of them.

* Before the files are collected, the generated reference pages are (re)written from the code
  (docs/gen_cli.py: the command reference from the CLI's parser, the settings from ``Context``).
* The API reference reads the docstrings without importing anything (griffe's static analysis), from
  ``build/docs-pkg`` (ignored, like all of build/): the package laid out as it installs, since setup.py
  maps agents/ to tunegraph.agents and so on, which the repository's folders alone do not show. The
  root package's files are copied and every other folder is a symlink; laid anew at each build.
* Every benchmark report ``benchmarks/results/*.md`` and its plots (``*.png``) are added to the site
  under ``benchmarks/results/`` as they are on disk, so their relative image links work and a report
  rebuilt by its benchmark is on the site at the next build; ``benchmarks/reports.md`` lists them all,
  with their titles. A report that a page links to but that is not written yet (a benchmark still
  running) is a short page saying so.
* The provenance notes beside the shipped data (data/README.md, benchmarks/matrix/README.md) and the
  portfolio suite's how-to (benchmarks/compare_portfolio.md) are added the same way.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# repository file -> its page on the site
NOTES = {"data/README.md": "meta-dataset/provenance.md",
         "benchmarks/matrix/README.md": "meta-dataset/matrix-build.md",
         "benchmarks/compare_portfolio.md": "benchmarks/how-to-portfolio.md"}
# reports a page links to before their benchmark has written them: name -> how to make it
PENDING = {"holdout.md": "python benchmarks/holdout.py --jobs 1"}


def _gen_cli():
    spec = importlib.util.spec_from_file_location("tunegraph_docs_gen_cli", Path(__file__).with_name("gen_cli.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PACKAGE_TREE = ROOT / "build" / "docs-pkg"  # mkdocs.yml: the python handler's paths (outside docs/: serve watches that)


def folders() -> dict[str, str]:
    """setup.py's FOLDERS (package -> repository folder), read, not run, so the tree cannot drift from it."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "FOLDERS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError("docs/hooks.py: no FOLDERS in setup.py")


def package_tree() -> Path:
    """``build/docs-pkg/tunegraph``: the root package's files, and each mapped folder as its sub-package."""
    if PACKAGE_TREE.exists():
        shutil.rmtree(PACKAGE_TREE)
    mapping = folders()
    root = PACKAGE_TREE / mapping.get("tunegraph", "tunegraph").replace(".", "/")
    root.mkdir(parents=True)
    for path in (ROOT / mapping["tunegraph"]).iterdir():
        if path.is_file():  # copied: griffe follows a symlinked __init__.py back to the repository's folder
            shutil.copy2(path, root / path.name)
        elif path.name != "__pycache__":
            (root / path.name).symlink_to(path, target_is_directory=True)
    for package, folder in mapping.items():
        if package != "tunegraph":
            link = PACKAGE_TREE / package.replace(".", "/")
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(ROOT / folder, target_is_directory=True)
    return PACKAGE_TREE


@event_priority(100)  # before mkdocstrings' own on_config, which drops search paths that do not exist yet
def on_config(config, **kwargs):
    _gen_cli().write()
    package_tree()
    return config


def title(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def reports_page(reports: list[Path]) -> str:
    lines = ["# Benchmark reports", "",
             "Each report as its benchmark wrote it in `benchmarks/results/` (the summaries with their context "
             "are the other pages of this section). Raw results beside them are `.jsonl.gz` files in the "
             "repository.", "", "| report | title |", "|---|---|"]
    for path in reports:
        name = re.sub(r"([\\`*_\[\]|])", r"\\\1", title(path))
        lines.append(f"| [{path.name}](results/{path.name}) | {name} |")
    return "\n".join(lines) + "\n"


def on_files(files: Files, config, **kwargs) -> Files:
    reports = sorted(RESULTS.glob("*.md"))
    for path in [*reports, *sorted(RESULTS.glob("*.png"))]:
        files.append(File.generated(config, f"benchmarks/results/{path.name}", abs_src_path=str(path)))
    for name, command in PENDING.items():
        if not (RESULTS / name).exists():
            files.append(File.generated(config, f"benchmarks/results/{name}", content=(
                f"# {name}: not written yet\n\nThis benchmark is still running. Its report appears here when "
                f"`{command}` has finished units to report (`--report-only` rebuilds it from what has "
                "finished).\n")))
    for source, uri in NOTES.items():
        files.append(File.generated(config, uri, abs_src_path=str(ROOT / source)))
    files.append(File.generated(config, "benchmarks/reports.md", content=reports_page(reports)))
    return files
