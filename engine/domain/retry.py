"""When the next delivery attempt is due. Pure: the caller passes the attempt count and the time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 10
    backoff: str = "exponential"  # or "fixed"
    initial_interval: float = 1.0
    max_interval: float = 600.0
    multiplier: float = 2.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1-based), capped at max_interval."""
        if self.backoff == "fixed":
            return min(self.initial_interval, self.max_interval)
        return min(self.initial_interval * self.multiplier ** max(attempts - 1, 0), self.max_interval)

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
