"""Write the reduced copy of Persona's public OpenAPI that the contract tests validate against.

Source: Persona's public OpenAPI 3.1 specification, API version 2025-12-08, published by
Persona at https://github.com/persona-id/persona-openapi (Apache-2.0 licence) as
`2025-12-08/openapi-bundled.yaml`. The committed copy was made from commit
a1526b5ee8d5b28ee3cc8f0123de022fbe5e09a6 of that repository.

Kept: for every operation the client calls or the sandbox serves (`OPERATION_IDS`) and every
`inquiry.*`/`verification.*` webhook event, what `tests.contract.openapi` and
`tests.contract.webhooks` read: servers, security, paths and methods, parameters, headers,
request bodies, responses, their schemas (validation keywords only) and every component those
reference, transitively. Dropped: descriptions, titles, examples (except the official ones a
test validates, `KEPT_EXAMPLES`), `x-` extensions and other annotations, and every component
nothing kept references. A keyword the reduction does not know stops it, so a spec that starts
using one is a decision, not a silent loss. Without descriptions the copy is meant for
validation only, not as OpenAPI documentation.

Output: one self-contained JSON document, `persona-openapi-<version>.json` next to this file
(`tests.contract.openapi.spec_path`), keys in the source's order and paths, events and
components sorted by name, so a run on the same source leaves no diff. Reducing the copy itself
gives the copy back (`test_spec_copy` checks that).

When the spec moves, regenerate from the repository root:

    git clone https://github.com/persona-id/persona-openapi ../persona-openapi
    python -m tests.contract.spec.regenerate ../persona-openapi/2025-12-08/openapi-bundled.yaml

SOURCE is that bundled file (YAML or JSON), or a directory of per-operation subsets cut from it
(`operations/<operationId>.yaml` and `webhooks-inquiry-verification.yaml`); both give the same
bytes. `--out FILE` writes elsewhere, to try a copy with `PERSONA_OPENAPI_SPEC=FILE` before it
replaces the committed one. Review the diff and run `tests/contract`. For a new API version
the copy is written under the source's `info.version`: move `SPEC_VERSION` in
`tests/contract/openapi.py` and the client's pinned `Persona-Version` to it together, and
delete the old copy.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from persona_sandbox.app import OPERATIONS as SANDBOX_ROUTES
from tests.contract.harness import SANDBOX_OPERATIONS
from tests.contract.openapi import spec_path
from tests.contract.spec.reduce import reduce_documents

__all__ = [
    "KEPT_EXAMPLES",
    "OPERATION_IDS",
    "WEBHOOK_PREFIXES",
    "kept_event",
    "load_document",
    "main",
    "reduce_source",
    "render",
]

#: Every operation the client calls or the sandbox serves (the client's and `create-a-case`
#: are `SANDBOX_OPERATIONS`; the sandbox's routes add what only it serves).
OPERATION_IDS: Final = tuple(sorted({*SANDBOX_OPERATIONS, *(route[2] for route in SANDBOX_ROUTES)}))
#: Official examples a test validates (`test_openapi_kit.test_official_example_passes`).
KEPT_EXAMPLES: Final = ("inquiry-retrieve",)
#: The webhook events kept, by name prefix.
WEBHOOK_PREFIXES: Final = ("inquiry.", "verification.")
#: The webhooks subset in a directory of subsets (without its suffix).
WEBHOOKS_FILE: Final = "webhooks-inquiry-verification"


def kept_event(name: str) -> bool:
    """Whether webhook event `name` is kept: every inquiry and verification event."""
    return name.startswith(WEBHOOK_PREFIXES)


def load_document(path: Path) -> Mapping[str, Any]:
    """Parse one JSON or YAML document."""
    with path.open("rb") as stream:
        if path.suffix == ".json":
            loaded = json.load(stream)
        else:
            loaded = yaml.load(stream, Loader=yaml.CSafeLoader)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not an OpenAPI document")
    return loaded


def _document_in(directory: Path, stem: str) -> Mapping[str, Any]:
    for suffix in (".yaml", ".yml", ".json"):
        path = directory / f"{stem}{suffix}"
        if path.is_file():
            return load_document(path)
    raise FileNotFoundError(f"no {stem}.yaml, .yml or .json in {directory}")


def reduce_source(source: Path) -> dict[str, Any]:
    """The reduced document of the spec at `source`.

    Args:
        source: The bundled spec file (or a reduced copy, which reduces to itself), or a
            directory of subsets.
    """
    if source.is_dir():
        operations = {op: _document_in(source / "operations", op) for op in OPERATION_IDS}
        webhooks = _document_in(source, WEBHOOKS_FILE)
    else:
        webhooks = load_document(source)
        operations = dict.fromkeys(OPERATION_IDS, webhooks)
    return reduce_documents(operations, webhooks, events=kept_event, examples=KEPT_EXAMPLES)


def render(document: Mapping[str, Any]) -> str:
    """The JSON text the reduced document is committed as."""
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Reduce the spec at SOURCE into the committed copy of its version (or `--out`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", type=Path, help="openapi-bundled.yaml, or a directory of subsets")
    parser.add_argument("--out", type=Path, help="file to write (default: the committed copy)")
    args = parser.parse_args(argv)
    document = reduce_source(args.source)
    out = args.out or spec_path(document["info"]["version"])
    text = render(document)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {len(text.encode()) / 1024:.0f} KB to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
