"""The rollout's step graph as data: every runner (the local loop, Step Functions, Workflows,
Durable Functions) reads the order of a rollout from here, and ``serving/rollout.py`` holds the
steps themselves, keyed by these names (a test holds the two to the same set)."""

from __future__ import annotations

# step -> the steps it may hand over to (besides itself, after a poll, and "done").
SUCCESSORS: dict[str, tuple[str, ...]] = {
    "begin": ("redeploy", "staging"),
    "redeploy": (),
    "staging": ("smoke",),
    "smoke": ("canary", "promote"),
    "canary": ("probe",),
    "probe": ("bake", "promote"),
    "bake": (),
    "promote": (),
    "abort": (),
}
ENTRIES = ("begin", "promote")  # an approval starts at begin; a canary that passed its bake at promote
# A permanent failure in these rolls the candidate back (the abort step); in the others it is the
# request that fails (a version no longer APPROVED, a redeploy of what production serves).
ABORTABLE = frozenset({"staging", "smoke", "canary", "probe", "bake", "promote"})
DONE = "done"
STEP_NAMES = tuple(SUCCESSORS)

__all__ = ["ABORTABLE", "DONE", "ENTRIES", "STEP_NAMES", "SUCCESSORS"]
