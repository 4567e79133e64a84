from __future__ import annotations

from starling_eval.backends.retry import RetryPolicy, retry_after_seconds


def test_retry_after_forms():
    assert retry_after_seconds({"retry-after": "2.5"}) == 2.5
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after_seconds({}) is None and retry_after_seconds(None) is None


def test_delay_honours_server_and_caps_backoff():
    policy = RetryPolicy(base_s=1.0, cap_s=8.0)
    assert policy.delay(3, retry_after_s=4.0) == 4.0
    assert all(0 <= policy.delay(10) <= 8.0 for _ in range(100))
    assert all(0 <= policy.delay(1) <= 1.0 for _ in range(100))
