"""The embedded default: every port implemented on files and one SQLite database.

This is what ``skyloop demo`` runs on, and what unit tests use as real (not
mocked) adapters: SQLite is fast enough that there is no reason to fake it.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..bootstrap import Table


def adapter_table() -> "Table":
    """The local adapter table, imported on first use (``skyloop.bootstrap`` builds from it)."""
    from .table import TABLE

    return TABLE
