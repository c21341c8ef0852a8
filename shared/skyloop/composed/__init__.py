"""Adapters written once over other ports: they hold no platform of their own and run on every
backend that keeps the ports' contracts (a spilling key-value store, idempotency, the audit log and
the guardrails' memory over compare-and-set, a registry that keeps a run mirror current).

They import only the kernel (``ports``, ``errors``, ...), as ``local/`` and ``clouds/`` do."""
