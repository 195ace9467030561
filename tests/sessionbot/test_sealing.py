"""Sealing: a value opens under its own keys and purpose only."""

from __future__ import annotations

import pytest

from sessionbot import sealing

KEY = "k" * 40
OTHER = "o" * 40


def test_a_sealed_value_opens_under_the_same_key_and_purpose() -> None:
    sealed = sealing.seal("words", keys=KEY, purpose=sealing.BOT_IDENTITIES)
    assert "words" not in sealed
    assert sealing.unseal(sealed, keys=KEY, purpose=sealing.BOT_IDENTITIES) == "words"


@pytest.mark.parametrize(
    ("keys", "purpose"),
    [(OTHER, sealing.BOT_IDENTITIES), (KEY, sealing.PLUGIN_SECRETS)],
)
def test_another_key_or_purpose_does_not_open_it(keys: str, purpose: bytes) -> None:
    sealed = sealing.seal("words", keys=KEY, purpose=sealing.BOT_IDENTITIES)
    with pytest.raises(sealing.SealError) as caught:
        sealing.unseal(sealed, keys=keys, purpose=purpose)
    assert "words" not in str(caught.value)


def test_after_a_rotation_the_old_key_still_opens() -> None:
    sealed = sealing.seal("words", keys=OTHER, purpose=sealing.PLUGIN_SECRETS)
    assert sealing.unseal(sealed, keys=f"{KEY},{OTHER}", purpose=sealing.PLUGIN_SECRETS) == "words"
