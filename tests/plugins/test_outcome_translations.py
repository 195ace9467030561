# ruff: noqa: RUF001 - full-width punctuation is correct in Chinese text
"""A user who chose Spanish or Chinese reads the runtime's own sentences in that language."""

from __future__ import annotations

import pytest
from django.utils import translation

from plugins.models import Invocation
from plugins.outcomes import outcome_message
from plugins.sandbox import runner
from plugins.sandbox.host import CPU, CRASHED, UNAVAILABLE
from plugins.sandbox.runner import Outcome
from tests.plugins.conftest import ask, install

pytestmark = pytest.mark.django_db


@pytest.fixture
def plugins_installed(plugin_roots) -> None:
    install("good", "fx_good:Good", ["good"])
    install("raises", "fx_raises:Raises", ["boom"])
    install("hangs", "fx_hangs:Hangs", ["hang"], timeout_seconds=1.5)


@pytest.mark.parametrize(
    ("language", "text", "status", "reply"),
    [
        (
            "es",
            "/boom",
            Invocation.Status.FAILED,
            "Lo siento, /boom falló. El operador del bot puede ver qué salió mal.",
        ),
        ("zh-hans", "/boom", Invocation.Status.FAILED, "抱歉，/boom 执行失败。机器人的运营者可以查看出错原因。"),
        ("es", "/hang", Invocation.Status.TIMEOUT, "Lo siento, /hang tardó más de 1.5 segundos y se detuvo."),
        ("zh-hans", "/hang", Invocation.Status.TIMEOUT, "抱歉，/hang 运行超过 1.5 秒，已被停止。"),
        ("es", "/good many", Invocation.Status.ERROR, "Uso: /good [times:int] [word…]"),
        ("zh-hans", "/good many", Invocation.Status.ERROR, "用法：/good [times:int] [word…]"),
    ],
)
def test_a_failure_timeout_or_usage_reply_is_in_the_users_language(
    plugins_installed, language, text, status, reply
) -> None:
    answer, inv = ask(text, language=language)
    assert (answer, inv.status) == (reply, status)


@pytest.mark.parametrize(
    ("status", "es", "zh"),
    [
        (
            CPU,
            "Lo siento, /x usó más tiempo de procesador del permitido y se detuvo.",
            "抱歉，/x 占用的处理器时间超过上限，已被停止。",
        ),
        (
            runner.MEMORY,
            "Lo siento, /x necesitó más memoria de la permitida y se detuvo.",
            "抱歉，/x 需要的内存超过上限，已被停止。",
        ),
        (CRASHED, "Lo siento, /x se detuvo de forma inesperada. Inténtalo de nuevo.", "抱歉，/x 意外停止。请重试。"),
        (
            UNAVAILABLE,
            "Lo siento, /x no está disponible ahora mismo. Inténtalo más tarde.",
            "抱歉，/x 暂时不可用。请稍后再试。",
        ),
    ],
)
def test_every_other_outcome_sentence_is_translated(status, es, zh) -> None:
    for language, expected in (("es", es), ("zh-hans", zh)):
        with translation.override(language):
            assert outcome_message(outcome=Outcome(status), command="x", timeout_seconds=10) == expected
