"""Every file, module and test the documentation cites exists, so the docs cannot drift silently.

The README's guarantees name the test that proves each claim, and the docs point readers at
modules to read further. When code moves, a stale citation would still read as proof; this
test fails instead. It reads README.md, bench/README.md and docs/*.md and checks:

- code spans and fenced blocks: every token that looks like a repository path (a known
  top-level folder, or a file suffix) exists; `path.py::test_name` names a `def test_name` in
  that file; a bare `test_name` is defined somewhere under tests/; a dotted module of ours
  (`jobs.persona.ratelimit`, `worker.web:create_app`) resolves to a file, and a trailing
  attribute to a top-level name in it;
- relative Markdown links: the target file exists, and an `#anchor` names one of its headings.

Tokens with placeholders (`<id>`, `{id}`, `...`, `*`, `$VAR`) describe a shape, not a file, and
are skipped. The checker is pure (text in, problems out) so it is tested on small strings.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[1]
#: Top-level folders a cited path may start with (tracked folders and the docs).
TOP_FOLDERS: Final = frozenset(
    {".ci", "bench", "docs", "jobs", "persona_sandbox", "tests", "worker"}
)
#: Packages and modules whose dotted names the docs may cite.
TOP_MODULES: Final = frozenset({"bench", "jobs", "persona_sandbox", "settings", "tests", "worker"})
#: Endings that make a token a file path even without a folder (`settings.py`, `README.md`).
FILE_SUFFIXES: Final = (".py", ".md", ".toml", ".json", ".yaml", ".yml", ".cfg", ".ini", ".txt")
#: Characters and marks that turn a token into a pattern rather than a concrete name.
PLACEHOLDERS: Final = re.compile(r"[<>{}*$…\[\]]|\.\.\.")
_TEST_NAME: Final = re.compile(r"^test_\w+$")
#: A parametrized test's id suffix: `test_name[case]`.
_PARAMETERS: Final = re.compile(r"\[[^\]]*\]$")
_MODULE: Final = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?::[A-Za-z_]\w*)?$")
_CODE_SPAN: Final = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_FENCE: Final = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
_LINK: Final = re.compile(r"\]\(([^)\s]+)\)")
_LEAD: Final = "\"'("
_TRAIL: Final = "\"'.,;:()"


def documents(root: Path = ROOT) -> list[Path]:
    """The documentation this test keeps honest."""
    return [root / "README.md", root / "bench" / "README.md", *sorted(root.glob("docs/*.md"))]


def code_tokens(markdown: str) -> Iterator[str]:
    """Whitespace-separated tokens of every fenced block and inline code span."""
    for block in _FENCE.finditer(markdown):
        yield from block.group(1).split()
    prose = _FENCE.sub("", markdown)
    for span in _CODE_SPAN.finditer(prose):
        yield from span.group(2).split()


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _defined_names(path: Path) -> set[str]:
    """Top-level names a module defines, assigns, imports or exports in `__all__`."""
    names: set[str] = set()
    for node in _tree(path).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {target.id for target in targets if isinstance(target, ast.Name)}
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and isinstance(
                node.value, ast.List | ast.Tuple
            ):
                names |= {
                    item.value
                    for item in node.value.elts
                    if isinstance(item, ast.Constant) and isinstance(item.value, str)
                }
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
    return names


def _functions(path: Path) -> set[str]:
    """Every function (and method) name defined in a Python file."""
    return {
        node.name
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


@cache
def _all_test_functions(root: Path) -> frozenset[str]:
    return frozenset(
        name for path in (root / "tests").rglob("test_*.py") for name in _functions(path)
    )


def _check_path(token: str, root: Path) -> str | None:
    if not (root / token.rstrip("/")).exists():
        return f"`{token}`: no such file or folder"
    return None


def _check_test_id(token: str, root: Path) -> str | None:
    file_part, *names = token.split("::")
    path = root / file_part
    if not path.is_file():
        return f"`{token}`: no such file {file_part}"
    name = names[-1]
    if name not in _functions(path):
        return f"`{token}`: no def {name} in {file_part}"
    return None


def _module_file(parts: list[str], root: Path) -> Path | None:
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _check_module(token: str, root: Path) -> str | None:
    dotted, _, attribute = token.partition(":")
    parts = dotted.split(".")
    for size in range(len(parts), 0, -1):
        found = _module_file(parts[:size], root)
        if found is None:
            continue
        rest = parts[size:] + ([attribute] if attribute else [])
        if rest and rest[0] not in _defined_names(found):
            return f"`{token}`: {'.'.join(parts[:size])} defines no {rest[0]}"
        return None
    return f"`{token}`: no such module"


def _trimmed(token: str) -> str:
    """The token without the sentence's punctuation around it, or a test's parameter id."""
    token = token.lstrip(_LEAD).rstrip(_TRAIL)
    if "::" in token or token.startswith("test_"):
        token = _PARAMETERS.sub("", token)
    return token


def classify(token: str) -> str | None:
    """What a code token cites: `path`, `test_id`, `test`, `module`, or None for nothing."""
    token = _trimmed(token)
    if not token or "://" in token or PLACEHOLDERS.search(token):
        return None
    if "::" in token:
        return "test_id"
    if _TEST_NAME.match(token):
        return "test"
    head = token.split("/")[0]
    if ("/" in token and head in TOP_FOLDERS) or token.endswith(FILE_SUFFIXES):
        return "path"
    if _MODULE.match(token) and token.split(".")[0] in TOP_MODULES:
        return "module"
    return None


def check_token(token: str, root: Path = ROOT) -> str | None:
    """A problem with one cited name, or None when it exists (or cites nothing)."""
    kind = classify(token)
    token = _trimmed(token)
    if kind == "path":
        return _check_path(token, root)
    if kind == "test_id":
        return _check_test_id(token, root)
    if kind == "test":
        found = token in _all_test_functions(root)
        return None if found else f"`{token}`: no test of that name under tests/"
    if kind == "module":
        return _check_module(token, root)
    return None


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, spaces to `-`, other punctuation dropped."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text())
    return {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def check_links(markdown: str, source: Path) -> list[str]:
    """Problems with relative links: a missing target file or a heading it does not have."""
    problems = []
    for target in _LINK.findall(_FENCE.sub("", markdown)):
        if "://" in target or target.startswith("mailto:"):
            continue
        file_part, _, anchor = target.partition("#")
        path = (source.parent / file_part).resolve() if file_part else source
        if not path.exists():
            problems.append(f"link {target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            problems.append(f"link {target}: no heading #{anchor}")
    return problems


def check_document(markdown: str, source: Path, root: Path = ROOT) -> list[str]:
    """Every problem in one document's citations and links."""
    problems = [found for token in code_tokens(markdown) if (found := check_token(token, root))]
    return sorted(set(problems)) + check_links(markdown, source)


@pytest.mark.parametrize("document", documents(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_cited_path_test_and_link_exists(document: Path) -> None:
    assert check_document(document.read_text(), document) == []


def test_every_page_under_docs_is_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in sorted(ROOT.glob("docs/*.md")):
        assert f"](docs/{page.name}" in readme, page.name


def test_the_readme_stays_short_enough_to_read_to_the_end() -> None:
    # Longer explanations belong in docs/ and bench/README.md, linked from the README.
    assert len((ROOT / "README.md").read_bytes()) < 20_480


# --- the checker itself, on small strings --------------------------------------------------


@pytest.mark.parametrize(
    "cited",
    [
        "`jobs/pipeline/nowhere.py`",
        "`tests/pipeline/test_idempotency.py::test_that_was_never_written`",
        "`tests/pipeline/test_nowhere.py::test_anything`",
        "`test_that_was_never_written`",
        "`tests/pipeline/test_idempotency.py::test_that_was_never_written[case-1]`",
        "see `bench.chaos.plan.NoSuchPlan.ci()`",
        "`jobs.pipeline.nowhere`",
        "`jobs.persona.ratelimit.NoSuchLimiter`",
        "`worker.web:no_such_app`",
        "`docs/nowhere.md`",
        "`nowhere.py`",
        "```\npython -m bench.nowhere --fast\n```",
        "run it with `python -m worker.nowhere`.",
    ],
)
def test_the_checker_refuses_a_made_up_citation(cited: str) -> None:
    problems = check_document(cited, ROOT / "README.md")
    assert len(problems) == 1, problems


@pytest.mark.parametrize(
    "cited",
    [
        "`jobs/pipeline/poll_tick.py`",
        "`jobs/pipeline/`",
        "`tests/pipeline/test_idempotency.py`",
        "`tests/test_docs.py::test_the_checker_refuses_a_made_up_citation`",
        "`tests/test_docs.py::test_the_checker_refuses_a_made_up_citation[case-1]`",
        "`test_the_checker_refuses_a_made_up_citation`",
        "`jobs.persona.ratelimit`, `worker.web:create_app`, `worker.WorkerSettings`",
        "`uvicorn --factory worker.web:create_app --port 8000`",
        "`settings.py` and `pyproject.toml`.",
        "`persona:results`, `inquiry.completed`, `POST /inquiries/{id}/approve`",
        "`bench/results/<UTC timestamp>.json` and `arq:job:<job_id>`",
        "`https://example.com/missing.json`",
        "[the readme](README.md#configuration)",
    ],
)
def test_the_checker_accepts_what_exists_and_skips_what_cites_nothing(cited: str) -> None:
    assert check_document(cited, ROOT / "README.md") == []


def test_a_link_to_a_missing_heading_is_refused() -> None:
    problems = check_document("[x](README.md#no-such-heading)", ROOT / "README.md")
    assert problems == ["link README.md#no-such-heading: no heading #no-such-heading"]
