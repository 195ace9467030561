"""Accept a bridge's messages: validate, store durably with their routing, then ack.

Messages that arrive together are stored together: one transaction holds a batch's
messages, their routing decisions (``broker.message_routing``) and any broker answers, so each
``accepted`` ack still means "on disk", and a busy bridge costs a few statements per batch
instead of a dozen per message. Within a batch messages are routed in
arrival order (rate limits and user records see them as they came).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from redis.exceptions import RedisError

from bots.live import bot_config
from bridgeprotocol.frames import AttachmentFrame, Message
from bridgeprotocol.logformat import log_fields
from broker.lookup import Lookup, batch_lookup
from broker.message_routing import Routing, botusers_find, inbound_route
from broker.models import InboundMessage
from broker.ratelimit import rate_limit_check_many
from broker.validator import message_check
from sessionbot.dbbatch import rows_insert, writes_batched
from sessionbot.dbretry import once_more_on_lost_connection

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AcceptResult:
    # failed: this message alone could not be stored, for no fault of its data that is known
    status: Literal["accepted", "duplicate", "rejected", "failed"]
    reason: str | None = None


ACCEPTED = AcceptResult("accepted")
DUPLICATE = AcceptResult("duplicate")
FAILED = AcceptResult("failed")
UNSTORABLE = AcceptResult("rejected", "the database cannot store one of its fields")
# A database or Redis that cannot be reached fails the batch whole: every message of it is
# answered "send it again later". Anything else is tried again one message at a time.
INFRASTRUCTURE_ERRORS = (OperationalError, InterfaceError, RedisError, OSError)


def _attachments_store(attachments: tuple[AttachmentFrame, ...]) -> list[dict[str, object]]:
    """Keep contents in data/attachments by digest (idempotent); the database holds metadata."""
    folder = settings.DATA_DIR / "attachments"
    stored: list[dict[str, object]] = []
    for att in attachments:
        data = base64.b64decode(att.data_b64)
        digest = hashlib.sha256(data).hexdigest()
        path = folder / digest
        try:
            # Named again: an erasure spares a file written or named this recently
            # (broker.attachmentfiles.FILE_GRACE_SECONDS), whose row may not be committed yet.
            os.utime(path)
        except FileNotFoundError:
            # Owner only: plugin hosts (another user when the worker is root) get files by pipe.
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.chmod(0o700)
            # A temporary file of its own (mode 0600): two lanes or processes storing the same
            # file at once each rename a whole copy. On disk before the ack promises it.
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{digest}.", suffix=".part")
            with open(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        stored.append(
            {"name": att.name, "content_type": att.content_type, "size": att.size, "sha256": digest, "path": str(path)}
        )
    return stored


def inbound_accept(*, message: Message, bot: int, bot_id: str) -> AcceptResult:
    """Validate and store ``message`` to bot ``bot`` (Session ID ``bot_id``), then route it;
    duplicates change nothing."""
    return inbound_accept_many(messages=[message], bot=bot, bot_id=bot_id)[0]


def inbound_accept_many(*, messages: list[Message], bot: int, bot_id: str) -> list[AcceptResult]:
    """Validate, store and route ``messages`` to bot ``bot`` in one transaction; one result
    each, in order.

    The new invocations' tasks are sent once the transaction commits.
    """
    # Idempotent: a message stored before the connection broke is found again as a duplicate.
    return once_more_on_lost_connection(_accept_many, messages, BotRef(bot, bot_id), careful=False)


@dataclass(frozen=True, slots=True)
class BotRef:
    pk: int
    session_id: str


def _accept_many(messages: list[Message], bot: BotRef, *, careful: bool) -> list[AcceptResult]:
    results: list[AcceptResult | None] = [None] * len(messages)
    fresh: dict[str, int] = {}
    limit = bot_config(bot.pk).max_attachments
    for index, message in enumerate(messages):
        reason = message_check(message, max_attachments=limit)
        if reason is not None:
            results[index] = AcceptResult("rejected", reason)
        elif message.id in fresh:
            results[index] = DUPLICATE  # the same hash twice in one batch
        else:
            fresh[message.id] = index
    if not fresh:
        return [result or ACCEPTED for result in results]
    people = _people([messages[i] for i in fresh.values()], bot_id=bot.session_id)
    found = batch_lookup(bot=bot.pk, message_ids=list(fresh), senders=list(people), reserve=len(fresh))
    for message_id in found.stored:
        results[fresh.pop(message_id)] = DUPLICATE
    todo = sorted(fresh.values())
    if todo:
        try:
            _store([messages[i] for i in todo], bot=bot, careful=careful, found=found, people=people)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as exc:  # noqa: BLE001 - logged by _store_failure when it is this message's own
            # Another connection stored one of them first, a key clashed, or the database
            # refused one message: one at a time, carefully, so that only that one fails.
            if not careful:
                for i in todo:
                    results[i] = _accept_many([messages[i]], bot, careful=True)[0]
            else:
                (i,) = todo  # careful is one message at a time
                results[i] = _store_failure(messages[i], bot, exc)
        for i in todo:
            results[i] = results[i] or ACCEPTED
    return [result or ACCEPTED for result in results]


def _store_failure(message: Message, bot: BotRef, exc: Exception) -> AcceptResult:
    """The answer for one message whose storing raised ``exc``."""
    stored = InboundMessage.objects.filter(bot_id=bot.pk, message_id=message.id)
    if isinstance(exc, IntegrityError) and stored.exists():
        return DUPLICATE  # another connection stored it first
    log.error(
        "bridge message %r could not be stored",
        message.id[:40],
        exc_info=exc,
        extra=log_fields(message_hash=message.id[:128]),
    )
    # A value the database refuses is refused again on every resend: final.
    return UNSTORABLE if isinstance(exc, DataError | UnicodeError) else FAILED


def _people(messages: list[Message], *, bot_id: str) -> dict[str, str]:
    """``{sender: author name}`` of the messages not from the bot, the first name given."""
    people: dict[str, str] = {}
    for message in messages:
        if message.sender != bot_id and not people.get(message.sender):
            people[message.sender] = message.author_name or ""
    return people


def _store(messages: list[Message], *, bot: BotRef, careful: bool, found: Lookup, people: dict[str, str]) -> None:
    """Route ``messages`` (reads allowed), then write them and what they decided in one transaction."""
    attachments = [_attachments_store(message.attachments or ()) for message in messages]
    users = [message for message in messages if message.sender != bot.session_id]
    limit = bot_config(bot.pk).rate_limit
    verdicts = rate_limit_check_many(user_keys=[f"{bot.pk}:{message.sender}" for message in users], limit=limit)
    # A batch skips the look for existing invocation keys (a message's key exists only if
    # its stored message was deleted): a clash fails the batch, which is then stored
    # one message at a time, carefully.
    routing = Routing(
        bot=bot.pk,
        users=botusers_find(bot=bot.pk, people=people, found=found.users),
        people=people,
        careful=careful,
        verdicts={message.id: verdict for message, verdict in zip(users, verdicts, strict=True)},
        invocation_ids=list(found.invocation_ids),
    )
    inbound_ids = found.inbound_ids if len(found.inbound_ids) >= len(messages) else [None] * len(messages)
    inbounds = []
    for message, stored, pk in zip(messages, attachments, inbound_ids, strict=False):
        inbound = InboundMessage(
            pk=pk,
            bot_id=bot.pk,
            message_id=message.id,
            sender=message.sender,
            conversation=message.conversation,
            conversation_type=message.conversation_type,
            timestamp=message.timestamp,
            text=message.text,
            author_name=message.author_name or "",
            attachments=stored,
            reply_to=message.reply_to.dump() if message.reply_to else None,
        )
        inbound_route(inbound=inbound, bot_id=bot.session_id, routing=routing)
        inbounds.append(inbound)
    routing.prepare()
    # The ack promises the message is on disk: this commit waits for the flush (not relaxed).
    with writes_batched(relaxed=False):
        routing.write()
        rows_insert(inbounds)  # last: each row holds its routing decision
