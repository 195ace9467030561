"""One live bridge connection per bot: the lease rule, pure (no Django, no I/O).

Pending sends are not claimed per connection, so two live connections of one bot would
each push every send and users would get replies twice. So the connection that said hello
holds a lease on its bot's ``BridgeStatus`` row, in the database that every broker process
shares: a connection epoch and a time the lease runs out. The holder renews it every
``LEASE_RENEW_SECONDS``; a renewal that finds another epoch has been superseded and closes.

A hello takes the lease (the epoch goes up by one) when nobody holds it, when the lease ran
out (its connection or broker process died without saying so), when it comes from the same
bridge (its ``instance`` is the holder's: a reconnect whose old connection is half-open, or
a restart) or on the connection that holds it. Otherwise it is refused. A hello without
``instance`` is taken for another bridge than any holder: refused while another
connection's lease is live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# A holder that stops renewing (its process died) lets a successor in after this long.
LEASE_SECONDS = 30.0
# Three renewals per lease: one lost to a slow database does not let another bridge in.
LEASE_RENEW_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a bot's lease, as its row says: ``epoch`` 0 and no ``lease_until``: nobody."""

    instance: str
    epoch: int
    lease_until: datetime | None


def lease_takes(holder: Holder, *, instance: str | None, held_epoch: int | None, now: datetime) -> bool:
    """Whether a hello with ``instance``, on a connection holding ``held_epoch`` (or none),
    takes the lease from ``holder`` at ``now``."""
    if holder.lease_until is None or holder.lease_until <= now:
        return True  # nobody holds it, or the holder stopped renewing
    if held_epoch is not None and held_epoch == holder.epoch:
        return True  # a second hello on the holding connection
    return bool(instance) and instance == holder.instance
