"""Exponential backoff with full jitter (AWS architecture blog's "full jitter")."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    base: float = 0.5
    cap: float = 30.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def ceiling(self) -> float:
        return float(min(self.cap, self.base * 2**self.attempt))

    def next(self) -> float:
        """Return the next delay, uniformly drawn up to the growing ceiling (never zero)."""
        ceiling = self.ceiling()
        self.attempt = min(self.attempt + 1, 32)
        return max(self.base / 2, self.rng.uniform(0, ceiling))

    def reset(self) -> None:
        self.attempt = 0
