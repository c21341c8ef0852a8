"""Drift: what moved between the training data and what clients send (``stats``), and the
check that turns a report into a ``DriftDetected`` event (``check``)."""
