"""A model group's name: one rule, the strictest of the three cloud registries, held where events
enter, so a name one cloud accepts is never refused by another later.

- Vertex AI model IDs: a lowercase letter first, then lowercase letters, digits, '-' or '_', <= 63;
- SageMaker model package groups: letters, digits and single '-' between them, <= 63;
- Azure ML model names: a letter or digit first, then letters, digits, '-', '_' or '.', <= 255.

Their intersection: a lowercase letter, then lowercase letters, digits and '-', ending on a letter
or digit, at most 63 characters. Every name Skyloop derives from a file name keeps it: a stem that
starts with a digit (``2026-churn.csv``, accepted by SageMaker and refused by Vertex) is prefixed.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from .errors import InvalidEvent

MAX_LENGTH = 63
RULE = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
PREFIX = "m-"  # before a stem that starts with a digit


def check(name: str) -> str:
    """``name`` if every registry takes it; else a typed refusal that says the rule."""
    if not isinstance(name, str) or not RULE.match(name) or "--" in name:
        raise InvalidEvent(f"model group {str(name)[:80]!r} is not a valid name: a lowercase letter, then lowercase "
                           f"letters, digits and single '-', ending on a letter or digit, at most {MAX_LENGTH} "
                           "(the rule every cloud's registry takes)")
    return name


def from_stem(stem: str) -> str:
    """A valid group for a file's stem: lowercased, every run of other characters one '-', a
    digit-first stem prefixed, cut to the length limit; ``default`` for a stem with nothing left."""
    name = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    if name and not name[0].isalpha():
        name = PREFIX + name
    return name[:MAX_LENGTH].rstrip("-") or "default"


def _validated(name: str) -> str:
    try:
        return check(name)
    except InvalidEvent as exc:
        raise ValueError(exc.reason) from None  # pydantic reports it as the field's error


ModelGroup = Annotated[str, AfterValidator(_validated)]

__all__ = ["MAX_LENGTH", "ModelGroup", "RULE", "check", "from_stem"]
