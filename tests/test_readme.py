"""The README's configuration reference stays in step with `Settings`."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import SecretStr

from settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def _documented() -> dict[str, str]:
    text = README.read_text()
    table = text.split("<!-- settings:start -->")[1].split("<!-- settings:end -->")[0]
    rows = re.findall(r"^\| `([A-Z_]+)` \| (.+?) \| (.+?) \|$", table, flags=re.MULTILINE)
    return {name: default for name, default, _ in rows}


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    value = field.default
    if field.is_required():
        return "(required)"
    if value is None:
        return "(none)"
    if isinstance(value, tuple):
        return f"`{','.join(value)}`" if value else "(empty)"
    if value == "":
        return "(from `KEY_PREFIX`)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    assert not isinstance(value, SecretStr)
    return f"`{value}`"


def test_every_setting_is_documented_once_with_its_default() -> None:
    documented = _documented()
    assert set(documented) == {name.upper() for name in Settings.model_fields}
    for name in Settings.model_fields:
        assert documented[name.upper()] == _default(name), name
