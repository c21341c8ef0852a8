"""The incident: what detection found on a service, the normal it broke, what was tried and what
verification concluded. One repository owns its keys (``repository.py``); detection, verification,
the canary judge, the report and the CLI all read and write an incident through it."""

from .repository import Incidents

__all__ = ["Incidents"]
