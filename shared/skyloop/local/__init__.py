"""The embedded default: every port implemented on files and one SQLite database.

This is what ``skyloop demo`` runs on, and what unit tests use as real (not
mocked) adapters: SQLite is fast enough that there is no reason to fake it.
"""
