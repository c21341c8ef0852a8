"""Remediation: the action catalogue, guardrails, and the use-case that applies them.

Nothing here imports pandas or scikit-learn: a remediate function starts with
pydantic and the executor it needs.
"""
