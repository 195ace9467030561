"""``/mydata`` and ``/forgetme``: a chat user sees and erases what the bot keeps about them."""

import json
import secrets
import time

from plugins.api import Attachment, Context, Plugin, Reply, command
from sessionbot_builtin.messages import t

PREFIX = "/"  # as /help writes commands
CONFIRM_SECONDS = 600
KEY_PREFIX = "forgetme:"  # then the user's Session ID: their pending code and its deadline
MAX_EXPORT_BYTES = 9_000_000  # below an attachment's 10,000,000


class Privacy(Plugin):
    """Show a user what this bot keeps about them, and erase it on a confirmed request."""

    @command("mydata", summary="Show what the bot keeps about you")
    def mydata(self, ctx: Context, rest: str = "") -> Reply:
        """Sums up what this bot keeps about you and attaches all of it as mydata.json (private chats only)."""
        if ctx.conversation_type != "private":
            return Reply(t(ctx.language, "privacy.private", prefix=PREFIX, command="mydata"))
        data = ctx.platform.user_data()
        plugins = data.get("plugins") or {}
        user = plugins.get("user") or {}
        days = data.get("content_days")
        kept = t(ctx.language, "kept.days", days=days) if days else t(ctx.language, "kept.forever")
        summary = t(
            ctx.language,
            "mydata",
            messages=len(data["messages"]["messages"]),
            invocations=len(plugins.get("invocations") or []),
            replies=len(data["messages"]["replies"]),
            files=len(data["files"]["files"]),
            language=user.get("language") or "-",
            grants=len(plugins.get("grants") or []),
            groups=", ".join(plugins.get("groups") or []) or "-",
            kept=kept,
            prefix=PREFIX,
        )
        raw = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
        if len(raw) > MAX_EXPORT_BYTES:
            return Reply(summary + "\n\n" + t(ctx.language, "mydata.big"))
        return Reply(summary, (Attachment("mydata.json", "application/json", raw),))

    @command("forgetme", summary="Erase what the bot keeps about you")
    def forgetme(self, ctx: Context, code: str = "") -> Reply:
        """/forgetme sends a code; /forgetme CODE within ten minutes erases your data with this bot.

        Private chats only, like /mydata.
        """
        if ctx.conversation_type != "private":
            return Reply(t(ctx.language, "privacy.private", prefix=PREFIX, command="forgetme"))
        key = f"{KEY_PREFIX}{ctx.user_id}"
        code = code.strip()
        _expired_forget(ctx)
        if not code:
            fresh = f"{secrets.randbelow(1_000_000):06d}"
            ctx.storage.set(key, {"code": fresh, "until": time.time() + CONFIRM_SECONDS})
            minutes = CONFIRM_SECONDS // 60
            return Reply(t(ctx.language, "forgetme.ask", prefix=PREFIX, code=fresh, minutes=minutes))
        pending = ctx.storage.get(key)
        if not isinstance(pending, dict) or pending.get("until", 0) < time.time() or pending.get("code") != code:
            return Reply(t(ctx.language, "forgetme.wrong", prefix=PREFIX))
        ctx.storage.delete(key)
        counts = ctx.platform.user_forget()
        return Reply(
            t(
                ctx.language,
                "forgetme.done",
                messages=counts.get("messages", 0),
                invocations=counts.get("invocations", 0),
                replies=counts.get("replies", 0),
                files=counts.get("files", 0),
            )
        )

    def forget(self, ctx: Context) -> None:
        """A pending confirmation code is the only thing this plugin keeps about a user."""
        ctx.storage.delete(f"{KEY_PREFIX}{ctx.user_id}")


def _expired_forget(ctx: Context) -> None:
    """Drop the codes nobody confirmed in time: each names a user."""
    now = time.time()
    for key in ctx.storage:  # a snapshot of the keys: deleting as it goes is safe
        if key.startswith(KEY_PREFIX):
            pending = ctx.storage.get(key)
            if not isinstance(pending, dict) or pending.get("until", 0) < now:
                ctx.storage.delete(key)
