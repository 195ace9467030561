"""Signals through which the plugin runtime hands results to whoever delivers them.

The broker connects to :data:`invocation_replied` and :data:`invocation_sent`; the plugin runtime never imports the
broker (dependencies point one way).
"""

from django.dispatch import Signal

# Sent inside the transaction that finishes an invocation, with ``invocation``, ``reply``
# (a plugins.api.Reply) and ``config`` (the settings of the invocation's bot, read before).
# Receivers must store what they need in that transaction, and only write: on PostgreSQL
# its statements travel together when it ends (``sessionbot.dbbatch.writes_batched``), so
# a read raises ``ReadInWriteBatch``.
invocation_replied = Signal()

# Sent while an invocation runs, for each message its plugin sends before its answer
# (``Context.send``), with ``invocation``, ``reply`` and ``sequence`` (1, 2, ... per run of
# the invocation: a run after a crash numbers its messages the same way, so a receiver that
# keys what it stores by invocation and sequence never stores one twice). Sent inside a
# transaction that commits as soon as the receivers return.
invocation_sent = Signal()
