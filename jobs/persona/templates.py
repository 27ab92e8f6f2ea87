"""Persona's template ids: the kind of an id, read from its prefix, and where each kind goes.

An inquiry is created from an inquiry template (`itmpl_...`), a pinned version of one
(`itmplv_...`) or a legacy template (`tmpl_...`). The kind decides which `create-an-inquiry`
attribute carries the id and which relationship of the created inquiry names it again. This is
the one table of that rule: the job contract validates with it, the request builder picks the
attribute with it, and `create_inquiry` recognises its own inquiries by the relationships.

The settings check `PERSONA_TEMPLATE_ID` by the same prefixes without importing this module
(they import nothing of ours); a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "TEMPLATE_ID_KINDS",
    "TEMPLATE_KINDS",
    "TEMPLATE_PREFIXES",
    "TEMPLATE_RELATIONSHIPS",
    "TemplateKind",
    "is_template_id",
    "template_kind",
]


@dataclass(frozen=True, slots=True)
class TemplateKind:
    """One kind of template id."""

    prefix: str
    """The id's prefix, with its underscore, so `itmplv_` never passes for `itmpl_`."""
    attribute: str
    """The `create-an-inquiry` attribute that carries an id of this kind."""
    relationship: str
    """The inquiry relationship that names the template again."""


TEMPLATE_KINDS: Final = (
    TemplateKind("itmpl_", "inquiry-template-id", "inquiry-template"),
    TemplateKind("itmplv_", "inquiry-template-version-id", "inquiry-template-version"),
    TemplateKind("tmpl_", "template-id", "template"),
)
#: The prefixes a template id may start with.
TEMPLATE_PREFIXES: Final = tuple(kind.prefix for kind in TEMPLATE_KINDS)
#: The prefixes in words, for error messages: `itmpl_, itmplv_ or tmpl_`.
TEMPLATE_ID_KINDS: Final = f"{', '.join(TEMPLATE_PREFIXES[:-1])} or {TEMPLATE_PREFIXES[-1]}"
#: The relationships under which an inquiry names the template it was created from.
TEMPLATE_RELATIONSHIPS: Final = tuple(kind.relationship for kind in TEMPLATE_KINDS)


def template_kind(template_id: str) -> TemplateKind | None:
    """The kind of a template id: its prefix and at least one character after it; else None."""
    for kind in TEMPLATE_KINDS:
        if template_id.startswith(kind.prefix) and len(template_id) > len(kind.prefix):
            return kind
    return None


def is_template_id(value: str) -> bool:
    """Whether `value` names a template of a kind Persona creates inquiries from."""
    return template_kind(value) is not None
