"""Serving: the rollout policy and its steps, A/B tests, the deployment history, batch scoring,
and the model server's neutral core (``inference``, which a cloud's container shim wraps)."""
