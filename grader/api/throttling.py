"""Per-token throttling: each integration has its own budget, so one noisy LMS cannot starve the others."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import BaseThrottle

from grader.models import Integration
from grader.shared_cache import CACHE_ERRORS, cache_failed, cache_is_down, cache_key, shared_redis

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """Parse a DRF-style rate: "600/min" is (600, 60). The unit's first letter decides, as in DRF."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[0]]


class IntegrationRateThrottle(BaseThrottle):
    """A fixed window per caller, counted with the cache's atomic increment.

    DRF's SimpleRateThrottle keeps a list of every request's time in the cache and writes it back whole: two
    web processes can read the same list and both pass, and each request (de)serializes the list, up to the
    whole budget long. One counter per window is O(1) and, on a shared cache (Redis), exact across processes.
    The price is the window edge: a caller can spend one window's budget at its end and the next at once.
    """

    def allow_request(self, request, view) -> bool:
        limit, period = parse_rate(settings.GRADER_API_THROTTLE_RATE)  # read per request: follows settings
        now = time.time()
        window = int(now // period)
        key = f"throttle:{self._ident(request)}:{period}:{window}"
        count = _count_request(key, timeout=period + 5)  # the key outlives its window a little
        self._wait = (window + 1) * period - now
        return count <= limit

    def wait(self) -> float:
        return max(1.0, self._wait)

    def _ident(self, request) -> str:
        user = request.user
        if isinstance(user, Integration):
            return f"integration-{user.pk}"
        if user is not None and user.is_authenticated:
            return f"user-{user.pk}"
        return f"ip-{self.get_ident(request)}"


class LoginFailureThrottle:
    """Failed HTTP Basic logins per client address, in a fixed window, checked before the password is hashed.

    DRF throttles after authentication, and each Basic attempt costs a deliberately slow password hash: without
    this, guessing a teacher's password is unlimited and every guess a CPU sink. Only failures count, so a
    teacher's tool that logs in correctly is never slowed down; a client over the budget gets 429 without a hash.
    """

    def __init__(self, request) -> None:
        self.limit, self.period = parse_rate(settings.GRADER_LOGIN_FAILURE_RATE)
        now = time.time()
        window = int(now // self.period)
        self.key = f"login-failures:{BaseThrottle().get_ident(request)}:{self.period}:{window}"
        self._wait = (window + 1) * self.period - now

    def exhausted(self) -> bool:
        return _read_count(self.key) >= self.limit

    def record_failure(self) -> None:
        _count_request(self.key, timeout=self.period + 5)

    def wait(self) -> float:
        return max(1.0, self._wait)


def _read_count(key: str) -> int:
    """The window's counter without changing it; 0 when missing or when the shared cache is down (fail open)."""
    client = shared_redis()
    if client is None:
        return caches["default"].get(key, 0)
    if cache_is_down():
        return 0
    try:
        return int(client.get(cache_key(key)) or 0)
    except CACHE_ERRORS as error:
        cache_failed(error, what="failed logins are not throttled meanwhile")
        return 0


def _count_request(key: str, *, timeout: int) -> int:
    """Add one to the window's counter and return it; the counter is created, with its expiry, if missing.

    0 when the shared cache is down: the request is let through (see grader.shared_cache).
    """
    client = shared_redis()
    if client is not None:
        if cache_is_down():
            return 0
        # One round trip instead of two, on every API request: SET NX EX creates the key, INCR counts. MULTI
        # keeps the two together, so the INCR never lands on a key that expired in between (it would never expire).
        redis_key = cache_key(key)
        try:
            with client.pipeline(transaction=True) as pipeline:
                pipeline.set(redis_key, 0, ex=timeout, nx=True)
                pipeline.incr(redis_key)
                return pipeline.execute()[1]
        except CACHE_ERRORS as error:
            cache_failed(error, what="API requests are not throttled meanwhile")
            return 0
    # Any other cache (in-process): add() only creates the key (atomically); incr() counts.
    backend = caches["default"]
    backend.add(key, 0, timeout=timeout)
    try:
        return backend.incr(key)
    except ValueError:  # expired between add() and incr(): this request opens the count again
        backend.add(key, 1, timeout=timeout)
        return 1
