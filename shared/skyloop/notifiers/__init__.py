"""Notification channels behind the ``Notifier`` port (``ports/notify.py``): a Slack-compatible
webhook and PagerDuty's Events API v2, over HTTP with the standard library; each cloud's own topic
is in its package (``clouds/<cloud>/``). Like ``local/`` and ``clouds/``, they import only the kernel."""
