"""A terminal chat with the bot as a Session user (``manage.py chat``): the operator's REPL."""

from __future__ import annotations

import logging
import mimetypes
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from bridge.account import (
    OutFile,
    SendRejected,
    SessionAccount,
    SessionUnreachable,
)
from bridge.messages import Incoming

Printer = Callable[[str], None]
log = logging.getLogger(__name__)


class ChatReceiver(threading.Thread):
    """Poll the user's mailbox and print what the bot (or anyone) sends."""

    def __init__(self, *, account: SessionAccount, bot_id: str, downloads: Path, out: Printer) -> None:
        super().__init__(name="chat-poller", daemon=True)
        self.account, self.bot_id, self.downloads, self.out = account, bot_id, downloads, out
        self.cursor = ""
        self.stopping = threading.Event()
        self.primed = threading.Event()
        self.seen: set[str] = set()

    def run(self) -> None:
        warned = False
        while not self.stopping.is_set():
            try:
                self._drain(show=self.primed.is_set())
                self.primed.set()
                warned = False
            except SessionUnreachable as exc:
                if not warned:
                    self.out(_("(the Session network cannot be reached: %(error)s; retrying)") % {"error": exc})
                warned = True
            except Exception:  # a file that could not be saved, say: keep showing the chat
                log.exception("showing received messages failed; retrying")
            self.stopping.wait(1.0)

    def _drain(self, *, show: bool) -> None:
        while True:
            page = self.account.retrieve(last_hash=self.cursor)
            for msg in page.messages:
                if show and isinstance(msg, Incoming) and msg.hash not in self.seen:
                    self._show(msg)
                self.seen.add(msg.hash)
            self.cursor = page.last_hash
            if not page.more:
                return

    def _show(self, msg: Incoming) -> None:
        if msg.kind != "data" or msg.sender == self.account.session_id or msg.sync_target:
            return
        who = _("bot") if msg.sender == self.bot_id else msg.sender[:10] + "…"
        if msg.text:
            self.out(f"{who}> {msg.text}")
        for pointer in msg.attachments:
            try:
                data = self.account.download(pointer)
            except (SessionUnreachable, ValueError) as exc:
                self.out(
                    _("%(who)s sent a file %(name)s that could not be fetched: %(error)s")
                    % {"who": who, "name": pointer.name, "error": exc}
                )
                continue
            self.downloads.mkdir(parents=True, exist_ok=True)
            target = self.downloads / f"{int(time.time() * 1000)}-{Path(pointer.name or 'file').name}"
            target.write_bytes(data)
            size = len(data)
            sent = ngettext(
                "%(who)s sent a file: %(path)s (%(size)d byte)", "%(who)s sent a file: %(path)s (%(size)d bytes)", size
            )
            self.out(sent % {"who": who, "path": target, "size": size})


def chat_line(*, account: SessionAccount, bot_id: str, line: str, out: Printer) -> None:
    """Send one typed line: ``/file PATH [caption]`` sends a file, anything else is text."""
    files: list[OutFile] = []
    text = line
    if line.startswith("/file "):
        path_text, _sep, caption = line[len("/file ") :].strip().partition(" ")
        path = Path(path_text).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            out(_("cannot read %(path)s: %(error)s") % {"path": path, "error": exc.strerror})
            return
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        files, text = [OutFile(path.name, kind, data)], caption
    try:
        account.send(to=bot_id, text=text, files=files)
    except SendRejected as exc:
        out(_("not sent: %(error)s") % {"error": exc})
    except SessionUnreachable as exc:
        out(_("not sent, the Session network cannot be reached: %(error)s") % {"error": exc})


def chat_run(
    *, sender: SessionAccount, receiver: ChatReceiver, lines: Iterable[str], out: Printer, linger: float
) -> None:
    """Send every input line until ``/quit`` or the end of input, then print replies ``linger`` s more."""
    receiver.start()
    receiver.primed.wait(timeout=30)
    for raw in lines:
        line = raw.rstrip("\n")
        if line.strip() in ("/quit", "/exit"):
            break
        if line.strip():
            chat_line(account=sender, bot_id=receiver.bot_id, line=line, out=out)
    time.sleep(linger)
    receiver.stopping.set()
