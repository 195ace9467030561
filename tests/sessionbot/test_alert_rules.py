"""``docs/prometheus-alerts.yml``: well-formed rules that name only metrics ``/metrics`` exports."""

from __future__ import annotations

import re

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT
from tests.sessionbot.botrows import bot_build, bridge_add, invocation_add, send_add

RULES = ROOT / "docs" / "prometheus-alerts.yml"
METRIC = re.compile(r"\bsessionbot_[a-z0-9_]+")


def rules() -> list[dict]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_rule_has_an_expression_a_severity_and_a_summary() -> None:
    found = rules()
    assert {
        "SessionbotBridgeDown",
        "SessionbotOutboxBackingUp",
        "SessionbotErrorRate",
        "SessionbotPluginUnhealthy",
    } <= {rule["alert"] for rule in found}
    for rule in found:
        assert rule["expr"].strip()
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"]


@pytest.mark.django_db
def test_every_metric_the_rules_name_is_exported(client) -> None:
    bot = bot_build()
    invocation_add(bot, bot.ping, "ok", ms=5)
    send_add(bot, "pending")
    bridge_add(connected=True, last_seen=bot.now)
    body = client.get("/metrics").content.decode()
    exported = set()
    for family in text_string_to_metric_families(body):
        exported.add(family.name)
        exported.update(sample.name for sample in family.samples)
    named = {name for rule in rules() for name in METRIC.findall(rule["expr"])}
    assert len(named) >= 8
    assert named - exported == set()
