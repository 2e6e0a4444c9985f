"""The ground floor every package stands on: errors, time formatting, the clock, the event bus and logging.

Nothing here imports another smc-agent package (``events.py`` importing ``model`` is the one known
exception, until events get their own package; see the floors in docs/architecture.md).
"""
