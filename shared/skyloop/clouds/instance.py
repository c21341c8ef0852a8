"""What a function instance builds once and reuses across invocations: its cloud's settings and
adapter set (clients, connections). Every cloud's entry points hold one, so a warm invocation
builds nothing, and a test can put its own adapters in place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..adapters import Adapters


class FunctionInstance:
    def __init__(self, cloud: str, settings: Callable[[], Any]) -> None:
        self.cloud, self._make_settings = cloud, settings
        self._settings: Any = None
        self._adapters: "Adapters | None" = None

    def settings(self) -> Any:
        """The cloud's settings (``SKYLOOP_<CLOUD>_*``), read once."""
        if self._settings is None:
            self._settings = self._make_settings()
        return self._settings

    def adapters(self) -> "Adapters":
        if self._adapters is None:
            from ..bootstrap import bootstrap

            self._adapters = bootstrap(self.cloud)
        return self._adapters

    def use(self, adapters: "Adapters | None" = None, settings: Any = None) -> None:
        """Run on these (tests); None: build them again from the environment on next use."""
        self._adapters, self._settings = adapters, settings


def route(function: str, events: list[Any], adapters: "Adapters", *, others: str = "refuse") -> dict[str, Any]:
    """What every event-driven entry point does with the decoded events: keep the kinds this
    function takes (``others``: refuse the rest, or ignore them where one topic carries kinds for
    several functions), dispatch each to its handler, answer."""
    from ..handlers import dispatch
    from .decoding import accept, takes

    kinds = takes(function)
    if others == "ignore":
        events = [e for e in events if isinstance(e, kinds)]
    events = accept(events, function, *kinds)
    if not events:
        return {"status": "ignored", "reason": "no Skyloop event for this function in this notification"}
    return {"status": "ok", "results": [dispatch(e, adapters) for e in events]}
