"""Every sample in events/local parses into the domain event its handler takes."""

from pathlib import Path

import pytest

from skyloop.handlers import HANDLERS, handler_for
from skyloop.events import parse_event

EVENTS = sorted((Path(__file__).resolve().parents[2] / "events" / "local").glob("*.json"))


def test_there_is_one_sample_per_handler():
    assert sorted(p.stem for p in EVENTS) == sorted(HANDLERS)


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.name)
def test_sample_parses_to_its_handlers_event(path):
    cls, _ = handler_for(path.stem)
    assert isinstance(parse_event(path.read_bytes()), cls)
