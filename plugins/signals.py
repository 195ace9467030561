"""Signals through which the plugin runtime hands results to whoever delivers them.

The broker connects to :data:`invocation_replied`; the plugin runtime never imports the
broker (dependencies point one way).
"""

from django.dispatch import Signal

# Sent inside the transaction that finishes an invocation, with ``invocation`` and
# ``reply`` (a plugins.api.Reply). Receivers must store what they need in that transaction.
invocation_replied = Signal()
