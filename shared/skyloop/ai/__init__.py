"""The AI-services use-case: an upload under ``ai/`` analysed by the configured provider
(``uploads.py``). The providers are adapters behind one port (``skyloop.ports.AIServices``) with
results of one shape (``ports/ai.py``): the local default's open tools (``local/ai.py``) and each
cloud's own services (``clouds/<cloud>/ai.py``), built by ``skyloop.bootstrap``."""
