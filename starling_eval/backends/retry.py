"""Retry policy for remote calls: which failures are worth another try, and how long to wait.

Rate limits (429) wait for the server's Retry-After when it gives one; server errors, timeouts and
dropped connections back off exponentially with full jitter; anything else (bad request, auth) fails at
once, since asking again would only pay again for the same error.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    base_s: float = 1.0
    cap_s: float = 60.0

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds to sleep before retry number ``attempt`` (1-based)."""
        if retry_after_s is not None and retry_after_s >= 0:
            return min(retry_after_s, self.cap_s * 5)
        return random.uniform(0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))


def retry_after_seconds(headers: object) -> float | None:
    """Parse ``Retry-After`` (seconds or HTTP date) or OpenAI's ``retry-after-ms`` from response headers."""
    if headers is None:
        return None
    get = getattr(headers, "get", None)
    if get is None:
        return None
    ms = get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        from datetime import datetime
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
