"""A JSON nesting-depth check that runs before the payload is parsed, in bounded memory.

`json.loads` recurses once per nesting level: ten thousand `[` make it raise RecursionError (and
a deep but legal document costs far more memory than its size). `nesting_exceeds` answers "is any
point of this payload nested deeper than `max_depth`?" without building a single Python object:
escaped backslashes and escaped quotes are removed (in C), then the payload is scanned in chunks
with numpy: a running count of quotes says which bytes are inside a string, and a running sum of
`[`/`{` (+1) and `]`/`}` (-1) outside strings is the depth. The cost is linear in the payload and
the extra memory is a few chunk-sized arrays. For valid JSON the answer is exact; for invalid
JSON it may be either, and `json.loads` refuses it afterwards anyway.
"""

from __future__ import annotations

import numpy as np

CHUNK = 1 << 18
QUOTE, OPENS, CLOSES = ord('"'), (ord("["), ord("{")), (ord("]"), ord("}"))


def nesting_exceeds(payload: bytes, max_depth: int) -> bool:
    """True when the JSON text nests arrays/objects deeper than `max_depth` anywhere."""
    if payload.count(b"[") + payload.count(b"{") <= max_depth:
        return False  # cannot be deeper than the number of openings (the common small command)
    # outside strings valid JSON has no backslash; inside, "\\\\" and "\\\"" are the only escapes
    # that could hide or fake a quote. Pairs are removed left to right, as a JSON reader pairs them.
    text = payload.replace(b"\\\\", b"").replace(b'\\"', b"")
    quotes_before, depth = 0, 0
    for start in range(0, len(text), CHUNK):
        chunk = np.frombuffer(text, np.uint8, count=min(CHUNK, len(text) - start), offset=start)
        quotes = chunk == QUOTE
        inside = (np.cumsum(quotes, dtype=np.int64) + quotes_before) & 1
        outside = inside == 0  # a closing quote leaves the count even: it is "outside", harmless
        step = ((chunk == OPENS[0]) | (chunk == OPENS[1])).astype(np.int64)
        step -= (chunk == CLOSES[0]) | (chunk == CLOSES[1])
        step *= outside
        levels = np.cumsum(step) + depth
        if int(levels.max()) > max_depth:
            return True
        depth = int(levels[-1])
        quotes_before += int(quotes.sum())
    return False
