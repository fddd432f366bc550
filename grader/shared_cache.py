"""The Redis behind the default cache, for the API's per-request bookkeeping (throttle counters, token look-ups).

Django's RedisCache builds a new ``redis.Redis`` client, and its table of response callbacks, on every call: about
a tenth of a millisecond each time, twice or three times per API request. One client per process and cache,
on the cache's own connection pool, costs that once.

Both users fail open: the cache is an optimisation and a limit, never the reason an LMS's answer is refused.
When Redis is down, the throttle lets requests through and the token is looked up in the database. After a
failure the cache is left alone for a few seconds, so that a frozen Redis costs one socket timeout per process
every few seconds, not one per request.
"""

from __future__ import annotations

import logging
import time

import redis
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

# Errors of the shared cache that the API rides out: Redis down, frozen or restarting.
CACHE_ERRORS = (redis.RedisError, OSError)

# How long a process leaves the cache alone after an error.
RETRY_AFTER_SECONDS = 5.0
_WARN_EVERY_SECONDS = 60.0
_down_until = 0.0
_last_warning = 0.0


def shared_redis() -> redis.Redis | None:
    """The default cache's Redis client, or None when the cache is not Redis.

    None also means "not shared across processes" (locmem, the embedded default): then nothing cached here could
    be invalidated in every web process, and callers keep to the database.
    """
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    # Kept on the backend object: a settings change (tests) makes Django build a new backend, and a new client.
    client = getattr(backend, "_grader_client", None)
    if client is None:
        # Django's RedisCache keeps its client factory private (and untyped).
        redis_cache = backend._cache  # type: ignore[attr-defined]
        client = redis_cache._client(connection_pool=redis_cache._get_connection_pool(write=True))
        backend._grader_client = client  # type: ignore[attr-defined]
    return client


def available_redis() -> redis.Redis | None:
    """shared_redis(), or None while the cache is left alone after an error (cache_is_down)."""
    return None if cache_is_down() else shared_redis()


def cache_key(key: str) -> str:
    """``key`` with the cache's KEY_PREFIX and version, as Django's own cache calls would store it."""
    return caches["default"].make_and_validate_key(key)


def cache_is_down() -> bool:
    """True for RETRY_AFTER_SECONDS after an error of the shared cache in this process."""
    return time.monotonic() < _down_until


def cache_failed(error: BaseException, *, what: str) -> None:
    """Leave the cache alone for RETRY_AFTER_SECONDS; one warning a minute per process while Redis stays down."""
    global _down_until, _last_warning
    now = time.monotonic()
    _down_until = now + RETRY_AFTER_SECONDS
    if now - _last_warning >= _WARN_EVERY_SECONDS:
        _last_warning = now
        logger.warning("cache unavailable (%s: %s); %s", type(error).__name__, error, what)
