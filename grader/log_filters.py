"""Logging filters that drop third-party log lines known to be harmless here, each matched by logger and message."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence


class DropMessages(logging.Filter):
    """Drops a record whose message starts with one of ``prefixes``.

    Attached to the one logger that emits the line (a logger's filters see only that logger's own records), never
    to a handler: everything else the library logs, and every other library, still reaches the log.
    """

    def __init__(self, prefixes: Sequence[str]) -> None:
        super().__init__()
        self.prefixes = tuple(prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


class DropMatching(logging.Filter):
    """Drops a record whose whole message matches one of ``patterns`` (regular expressions); attach it to a logger."""

    def __init__(self, patterns: Sequence[str]) -> None:
        super().__init__()
        self.patterns = [re.compile(pattern) for pattern in patterns]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(pattern.fullmatch(message) for pattern in self.patterns)
