"""The template id rule: a prefix picks the kind, the kind its attribute and relationship."""

from __future__ import annotations

import pytest

from jobs.persona.request_builders import template_attribute
from jobs.persona.templates import TEMPLATE_ID_KINDS, is_template_id, template_kind


@pytest.mark.parametrize(
    ("template_id", "attribute", "relationship"),
    [
        ("itmpl_abc", "inquiry-template-id", "inquiry-template"),
        ("itmplv_abc", "inquiry-template-version-id", "inquiry-template-version"),
        ("tmpl_abc", "template-id", "template"),
    ],
)
def test_each_prefix_names_its_kind(template_id: str, attribute: str, relationship: str) -> None:
    kind = template_kind(template_id)
    assert kind is not None
    assert (kind.attribute, kind.relationship) == (attribute, relationship)
    assert template_attribute(template_id) == attribute


@pytest.mark.parametrize("template_id", ["", "itmpl_", "tmpl_", "itmplabc", "ctmpl_abc", "vtmpl_x"])
def test_anything_else_is_no_template_id(template_id: str) -> None:
    assert template_kind(template_id) is None
    assert not is_template_id(template_id)
    with pytest.raises(ValueError, match=f"must start with {TEMPLATE_ID_KINDS}"):
        template_attribute(template_id)


def test_the_kinds_read_as_a_sentence() -> None:
    assert TEMPLATE_ID_KINDS == "itmpl_, itmplv_ or tmpl_"
