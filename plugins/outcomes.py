"""What the user reads, and what the invocation records, for each way a plugin can end."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.utils.translation import gettext as _

from plugins.api import Attachment, Reply
from plugins.models import Invocation
from plugins.sandbox import runner
from plugins.sandbox.host import CPU, CRASHED, TIMEOUT, UNAVAILABLE
from plugins.sandbox.runner import Outcome

log = logging.getLogger(__name__)
# Session delivers no file over 10,000,000 bytes. All of a reply's files travel in one send
# frame, which the bridge refuses past 16 MiB; as base64 these 12,000,000 bytes fit, with room.
MAX_ATTACHMENT_BYTES = 10_000_000
MAX_REPLY_ATTACHMENT_BYTES = 12_000_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f/\\]")

# A version not set up on this machine yet (``plugins.provision``): being set up by another
# worker now, or unavailable because its code or its environment cannot be made here.
SETTING_UP, NO_CODE, NO_ENVIRONMENT = "setting_up", "no_code", "no_environment"

STATUS = {
    runner.OK: Invocation.Status.OK,
    runner.ERROR: Invocation.Status.ERROR,
    runner.USAGE: Invocation.Status.ERROR,
    runner.FAILED: Invocation.Status.FAILED,
    runner.MEMORY: Invocation.Status.FAILED,
    runner.UNKNOWN: Invocation.Status.FAILED,
    UNAVAILABLE: Invocation.Status.FAILED,
    TIMEOUT: Invocation.Status.TIMEOUT,
    CPU: Invocation.Status.TIMEOUT,
    CRASHED: Invocation.Status.CRASHED,
    SETTING_UP: Invocation.Status.FAILED,
    NO_CODE: Invocation.Status.FAILED,
    NO_ENVIRONMENT: Invocation.Status.FAILED,
}


def outcome_message(*, outcome: Outcome, command: str, timeout_seconds: float) -> str:
    """The sentence the user reads when the plugin did not answer by itself (translated)."""
    params = {"command": command, "usage": outcome.usage, "seconds": f"{timeout_seconds:g}"}
    if outcome.status == CPU:
        return _("Sorry, /%(command)s used more processor time than it may and was stopped.") % params
    if outcome.status == runner.USAGE:
        return _("Usage: %(usage)s") % params
    if outcome.status == runner.MEMORY:
        return _("Sorry, /%(command)s needed more memory than it may use and was stopped.") % params
    if outcome.status == TIMEOUT:
        return _("Sorry, /%(command)s took longer than %(seconds)s seconds and was stopped.") % params
    if outcome.status == CRASHED:
        return _("Sorry, /%(command)s stopped unexpectedly. Please try again.") % params
    if outcome.status == SETTING_UP:
        return _("Sorry, /%(command)s is being set up on this machine. Please try again in a moment.") % params
    if outcome.status == NO_CODE:
        return (
            _(
                "Sorry, /%(command)s is unavailable on this machine: its code cannot be fetched again from "
                "where it was installed. The bot's operator can see why."
            )
            % params
        )
    if outcome.status == NO_ENVIRONMENT:
        return (
            _(
                "Sorry, /%(command)s is unavailable on this machine: the libraries it needs cannot be "
                "installed here. The bot's operator can see why."
            )
            % params
        )
    if outcome.status in (UNAVAILABLE, runner.UNKNOWN):
        return _("Sorry, /%(command)s is unavailable right now. Please try again later.") % params
    return _("Sorry, /%(command)s failed. The bot's operator can see what went wrong.") % params


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_clean(text: str) -> str:
    """Text any database stores and UTF-8 encodes: PostgreSQL refuses NUL characters and
    no encoder takes lone surrogates, and plugins may send either."""
    return _UNSTORABLE.sub("\ufffd", text)


def attachments_capped(attachments: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
    """The files of a plugin's reply that can be delivered: a send the bridge must refuse
    would be sent again after every reconnect and hold up every reply after it."""
    kept: list[Attachment] = []
    total = 0
    for item in attachments[: settings.BOT_CONFIG.max_attachments]:
        size = len(item.data)
        if size > MAX_ATTACHMENT_BYTES or total + size > MAX_REPLY_ATTACHMENT_BYTES:
            log.warning("dropped a plugin's file of %d bytes: over the size limits of one reply", size)
            continue
        total += size
        name = text_clean(_UNSAFE_NAME.sub("_", item.name))[:255] or "file"
        kind = text_clean(_CONTROL.sub("", item.content_type))[:200] or "application/octet-stream"
        kept.append(Attachment(name, kind, item.data))
    return tuple(kept)


def _capped(reply: Reply | None) -> Reply | None:
    return None if reply is None else reply_capped(reply)


def reply_capped(reply: Reply) -> Reply:
    """``reply`` as it may be sent: text storable and at most ``max_reply_chars`` (a runaway
    plugin must not flood the chat), files within the limits of one send."""
    limit = settings.BOT_CONFIG.plugin_limits.max_reply_chars
    text = text_clean(reply.text)
    return Reply(text if len(text) <= limit else text[: limit - 1] + "…", attachments_capped(reply.attachments))


def outcome_reply(*, outcome: Outcome, command: str, timeout_seconds: float) -> tuple[Reply | None, str]:
    """The reply to send (None: send nothing) and the invocation status for ``outcome``."""
    status = STATUS.get(outcome.status, Invocation.Status.FAILED)
    if outcome.status == runner.UNKNOWN and command == runner.TEXT:
        # A default handler without on_text: plain text gets nothing, as with no handler;
        # the operator sees the error on the plugin in the admin.
        return None, status
    if outcome.status in (runner.OK, runner.ERROR):
        return _capped(outcome.reply), status
    return Reply(outcome_message(outcome=outcome, command=command, timeout_seconds=timeout_seconds)), status
