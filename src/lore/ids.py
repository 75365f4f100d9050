"""Time-sortable ids (ULID layout: 48-bit milliseconds, 80 random bits, Crockford base32)."""

from __future__ import annotations

import os
import threading
import time

import numpy as np

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DIGITS = np.frombuffer(_ALPHABET.encode(), dtype=np.uint8)
_LOW = (1 << 64) - 1
_RANDOM = (1 << 80) - 1
_VECTORISED = 16  # from this many ids on, numpy spells them out faster
_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def new_id(prefix: str = "") -> str:
    """A new id that sorts after every id made before it in this process."""
    return new_ids(1, prefix)[0]


def new_ids(count: int, prefix: str = "") -> list[str]:
    """`count` new ids, each sorting after the one before (and every id made before them)."""
    global _last_ms, _last_rand
    if count <= 0:
        return []
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            # Same millisecond: increment the random part so ids stay strictly monotonic.
            ms = _last_ms
            rand = _last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last_ms, _last_rand = ms, rand + count - 1
    head = prefix + _base32(ms, 10)
    if count < _VECTORISED:
        return [head + _base32((rand + i) & _RANDOM, 16) for i in range(count)]
    # The random parts rand, rand + 1, ... (mod 2**80), as 16 high and 64 low bits each,
    # spelled out 5 bits at a time for all ids at once.
    low = np.arange(count, dtype=np.uint64) + np.uint64(rand & _LOW)
    high = np.uint64((rand >> 64) & 0xFFFF) + (low < np.uint64(rand & _LOW))  # the carry
    digits = np.empty((count, 16), dtype=np.uint64)
    for k, shift in enumerate(range(75, -1, -5)):
        if shift >= 64:
            digits[:, k] = high >> np.uint64(shift - 64)
        elif shift > 59:  # straddles the two halves
            digits[:, k] = (low >> np.uint64(shift)) | (high << np.uint64(64 - shift))
        else:
            digits[:, k] = low >> np.uint64(shift)
    tails = _DIGITS[digits & np.uint64(31)].tobytes().decode("ascii")
    return [head + tails[i : i + 16] for i in range(0, 16 * count, 16)]


def _base32(value: int, digits: int) -> str:
    return "".join([_ALPHABET[(value >> shift) & 31] for shift in range(5 * digits - 5, -1, -5)])
