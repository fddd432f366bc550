"""JSON bodies as the API accepts them: bounded nesting and finite numbers, or a 400 in the API's error shape."""

from __future__ import annotations

import codecs
import json
import math
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils.json import strict_constant

# No request of the API nests deeper than a bulk submission (object, list, object); this leaves ample room.
MAX_DEPTH = 32


def _finite_float(text: str) -> float:
    # json reads 1e309 as inf, which no field validates (int(inf) raises OverflowError deep inside DRF).
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _depth(data: Any) -> int:
    """Nesting depth of decoded JSON, without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return deepest


class BoundedJSONParser(JSONParser):
    """DRF's strict JSON parser, but a deep nesting or an infinite number is a ParseError (400), not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            data = json.load(
                codecs.getreader(encoding)(stream), parse_constant=strict_constant, parse_float=_finite_float
            )
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels") from None
        except ValueError as error:  # also UnicodeDecodeError
            raise ParseError(f"JSON parse error - {error}") from None
        if _depth(data) > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
        return data
