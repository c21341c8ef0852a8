"""What every AI provider checks before it calls anything: the features asked for, and that an
image is one (its size, for turning a cloud's relative boxes into pixels)."""

from __future__ import annotations

import io
from typing import Sequence

from ..errors import InvalidRequest, NotSupported


def check_features(provider: str, features: Sequence[str], supported: set[str], known: set[str]) -> set[str]:
    """The features wanted; one this provider lacks is ``NotSupported``, one nobody has is refused."""
    wanted = set(features)
    for f in sorted(wanted - supported):
        if f in known:
            raise NotSupported(f"the {provider} provider has no {f}")
        raise InvalidRequest(f"unknown feature {f!r}")
    return wanted


IMAGE_FEATURES = {"labels", "objects", "faces", "text"}
TEXT_FEATURES = {"sentiment", "entities", "key_phrases", "language"}


def image_size(image: bytes) -> tuple[int, int]:
    """(width, height) in pixels; bytes that are no image are the caller's error."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image)) as img:
            return img.size
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidRequest(f"not an image this provider can read: {exc}") from None
