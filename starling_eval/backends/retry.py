"""Retry policy for remote calls: which failures are worth another try, and how long to wait.

Rate limits (429) wait for the server's Retry-After when it gives one; server errors, dropped connections
and malformed replies (a 200 whose body is not a chat completion: a proxy's HTML page, a truncated body)
back off exponentially with full jitter; anything else (bad request, auth) fails at once, since asking
again would only pay again for the same error.

A client-side timeout is different: the server may still be generating, and on a paid API it may bill the
abandoned request. So a timed-out request is re-sent at most ``timeout_retries`` times (default once),
and every such re-send is counted as *possibly billed twice*. The default timeout is sized for the work
(:func:`timeout_for`), so a slow server answering a long judgment is waited for rather than re-asked.

An endpoint that has never answered is not retried for minutes: :class:`EndpointHealth` stops the run
after a few consecutive connection failures when no request to it has ever got an HTTP response.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}

# default per-request timeout: a fixed allowance for queueing and the prompt, plus the slowest generation
# speed we wait for (tokens/s of one stream on a busy CPU server; GPT-4 streams at ~20-60 tokens/s)
TIMEOUT_BASE_S = 60.0
SLOWEST_TOKENS_PER_S = 4.0
CONNECT_TIMEOUT_S = 10.0
# consecutive connection failures, with no HTTP answer ever, after which an endpoint counts as unreachable
UNREACHABLE_AFTER = 3


def timeout_for(max_tokens: int | None, explicit_s: float | None = None) -> float:
    """Seconds to wait for one reply: ``explicit_s`` when given, else enough for ``max_tokens`` on a slow server."""
    if explicit_s is not None:
        return explicit_s
    return TIMEOUT_BASE_S + (max_tokens or 1024) / SLOWEST_TOKENS_PER_S


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    base_s: float = 1.0
    cap_s: float = 60.0
    timeout_retries: int = 1  # re-sends after a client-side timeout (each may be billed again)

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds to sleep before retry number ``attempt`` (1-based)."""
        if retry_after_s is not None and retry_after_s >= 0:
            return min(retry_after_s, self.cap_s * 5)
        return random.uniform(0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))


class EndpointUnreachable(Exception):
    """No request to this endpoint ever got an answer and several in a row could not connect: stop the run
    (exit 3) instead of retrying for minutes. The message names the URL."""


class EndpointHealth:
    """Whether an endpoint has ever answered, and how many connection failures came in a row since."""

    def __init__(self, url: str, threshold: int = UNREACHABLE_AFTER):
        self.url = url
        self.threshold = threshold
        self.answered = False
        self.consecutive_failures = 0

    def answer(self) -> None:
        """Any HTTP response, even an error status: the endpoint is there."""
        self.answered = True
        self.consecutive_failures = 0

    def connection_failed(self, error: str) -> None:
        self.consecutive_failures += 1
        if not self.answered and self.consecutive_failures >= self.threshold:
            raise EndpointUnreachable(f"{self.url}: unreachable ({self.consecutive_failures} connection attempts "
                                      f"failed, none ever answered; last: {error})")


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
