"""Object ids in Persona's style: a type prefix and a random base62 tail.

Persona's ids are opaque strings such as `inq_zEx4jL84ShbUyuwX6AzPSqt6`; clients must not parse
them, so the sandbox only needs ids that look the part and never collide within a run. They are
not secrets, so a fast seeded generator is enough (ids are minted on the hot path).
"""

from __future__ import annotations

import hashlib
import os
import random
import string
from typing import Final

__all__ = ["derived_id", "new_id"]

_ALPHABET: Final = string.ascii_letters + string.digits
_RNG: Final = random.Random(os.urandom(16))
#: Tail lengths by prefix; inquiry ids are 32 characters long since 2024 (Persona changelog).
_TAIL: Final = {"inq_": 28, "req_": 27}
_DEFAULT_TAIL: Final = 24


def new_id(prefix: str) -> str:
    """A fresh id such as `inq_...`, `ver_...`, `evt_...`.

    Args:
        prefix: the type prefix including its underscore.
    """
    return prefix + "".join(_RNG.choices(_ALPHABET, k=_TAIL.get(prefix, _DEFAULT_TAIL)))


def derived_id(prefix: str, source: str) -> str:
    """A stable id computed from another id, for objects the sandbox only names.

    Args:
        prefix: the type prefix of the derived id, e.g. `itmplv_`.
        source: the id it derives from; the same source always gives the same id.
    """
    digest = hashlib.sha256(source.encode()).digest()
    tail = "".join(_ALPHABET[byte % len(_ALPHABET)] for byte in digest[:_DEFAULT_TAIL])
    return prefix + tail
