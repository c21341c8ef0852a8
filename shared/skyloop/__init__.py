"""Skyloop: event-driven functions that close the ML-operations loop.

The package root stays import-light on purpose: a detect or remediate function
cold-starts by importing only what its path needs (numpy, pydantic), never
pandas, scikit-learn or a cloud SDK.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
