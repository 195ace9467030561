"""Signals through which the plugin runtime hands results to whoever delivers them.

The broker connects to :data:`invocation_replied`; the plugin runtime never imports the
broker (dependencies point one way).
"""

from django.dispatch import Signal

# Sent inside the transaction that finishes an invocation, with ``invocation`` and
# ``reply`` (a plugins.api.Reply). Receivers must store what they need in that transaction,
# and only write: on PostgreSQL its statements travel together when it ends
# (``sessionbot.dbbatch.writes_batched``), so a read raises ``ReadInWriteBatch``.
invocation_replied = Signal()
