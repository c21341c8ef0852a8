"""People are told (issue 33): what the loop did that a person should know, read from its committed
state (``watch.py``), queued once per subject and state, and delivered to each channel on its own
with the delivery rule and a rate limit (``deliver.py``)."""
