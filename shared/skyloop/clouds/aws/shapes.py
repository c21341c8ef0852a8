"""What every AWS event mapper shares: a malformed document is a typed refusal.

Its own module so the decoders (``events``) and the CloudWatch mappers (``cloudwatch``) can
both use it without importing each other.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from ...errors import InvalidEvent, SkyloopError

F = TypeVar("F", bound=Callable[..., Any])


def typed(fn: F) -> F:
    """A mapper meets documents of any shape: a field of the wrong type is an
    ``InvalidEvent`` (dead-lettered with its reason), never a stray TypeError."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SkyloopError:
            raise
        except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
            raise InvalidEvent(f"malformed AWS event for {fn.__name__}: {type(exc).__name__}") from None

    return wrapper  # type: ignore[return-value]
