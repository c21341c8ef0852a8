"""Cloud AI services behind one port (``skyloop.ports.AIServices``), with results that are the
same on every provider (``ai/results.py``). The local default runs real open tools offline
(``ai/local.py``); the clouds' adapters are issue 18's later parts."""
