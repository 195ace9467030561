"""At the default log level no process of the bot, the bridge included, logs message text or a
secret, in either log format; with ``LOG_FORMAT=json`` every line of every process is one JSON
object. Every process real: the local Session network, ``runbroker`` with its worker and bridge,
and a Session user."""

from __future__ import annotations

import json

import pytest
import session_python.network as sp_network
from django.conf import settings

from bridge.account import OutFile
from tests.bridge.procs import proc_env, sessionnet_process
from tests.bridge.test_end_to_end import LONG, TOKEN, Stack, User, plugins_install
from tests.conftest import require_server, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

SECRET = "SECRET-MARKER-5f1c0e77"
FILE_SECRET = b"SECRET-FILE-0a9b"
KEYS = (("SECRET_KEY", "secret_key"), ("PLUGIN_SECRETS_KEY", "secrets_key"))  # given, or generated into data/


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_process_logs_message_text_or_secrets(log_format, tmp_path, transactional_db, monkeypatch) -> None:
    if settings.REDIS_URL:
        require_server(settings.REDIS_URL, "Redis")
    monkeypatch.setattr(sp_network, "SEEDS", list(sp_network.SEEDS))
    plugins_install()
    with sessionnet_process(proc_env(tmp_path / "data")) as url:
        s = Stack(tmp_path, {"SESSION_NETWORK_URL": url, "LOG_LEVEL": "INFO", "LOG_FORMAT": log_format})
        s.start("--workers", "1")
        user = User(url, s.bot_id)
        try:
            assert wait_for(lambda: bool(s.children("runbridge")), timeout=LONG)
            user.say(f"/echo {SECRET}", files=[OutFile("secret.txt", "text/plain", FILE_SECRET)])
            user.say(f"plain words {SECRET}")
            user.say(f"/nosuch {SECRET}")
            assert SECRET in user.wait_for_replies(2)
        finally:
            s.stop()
    assert s.broker is not None
    output = s.broker.output()
    keys = [s.env.get(name) or (tmp_path / "data" / file).read_text().strip() for name, file in KEYS]
    assert "bridge said hello" in output  # the broker logs at INFO
    assert "connected to the broker" in output  # and so does the bridge
    for private in (SECRET, FILE_SECRET.decode(), TOKEN, *keys, s.words, " ".join(s.words.split()[:3])):
        assert private not in output
    if log_format == "json":
        entries = [json.loads(line) for line in output.splitlines() if line.strip()]
        assert all({"time", "level", "logger", "message"} <= set(entry) for entry in entries)
        bridge = [e for e in entries if e["logger"].startswith("bridge.")]
        assert bridge, "the bridge's lines are in the output"
        assert all(e.get("bot") == "main" for e in bridge if e["message"].startswith("bot main:"))
        assert any(e["logger"] == "broker.consumers" and e.get("bot") == s.bot_id for e in entries)
