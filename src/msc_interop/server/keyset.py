"""Sets of resource keys held as 16-byte digests in numpy arrays, not as Python strings.

Why: a push of 100k resources compares what the input holds with what the server holds and what an
interrupted push already settled. As dicts of "Type/id" strings each of those costs ~150 bytes a resource;
here a key is the first 16 bytes of SHA-256("Type/id") (a collision among a few million keys has a chance
of about 1e-26) and a value is 16 more bytes (a content hash) or one byte (an outcome code), in sorted
arrays searched with `numpy.searchsorted`.
"""

from __future__ import annotations

import hashlib

import numpy as np

KEY = np.dtype("S16")
NO_HASH = b"\0" * 16  # a server resource without the content-hash tag: never equal to a real digest


def key(rtype: str, rid: str) -> bytes:
    return hashlib.sha256(f"{rtype}/{rid}".encode()).digest()[:16]


def hash16(hex_digest: str | None) -> bytes:
    """The first 16 bytes of a hex SHA-256 content hash (the tag's code); NO_HASH for none or a malformed one."""
    if not hex_digest or len(hex_digest) < 32:
        return NO_HASH
    try:
        return bytes.fromhex(hex_digest[:32])
    except ValueError:
        return NO_HASH


class KeyBuilder:
    """Keys (and optional 16-byte values) appended one by one into bytearrays, then frozen as arrays."""

    def __init__(self, value_bytes: int = 16):
        self._keys = bytearray()
        self._values = bytearray()
        self._width = value_bytes

    def add(self, k: bytes, value: bytes = b"") -> None:
        self._keys += k
        self._values += value.ljust(self._width, b"\0")[:self._width]

    def __len__(self) -> int:
        return len(self._keys) // 16

    def keys(self) -> np.ndarray:
        """The keys in the order they were added."""
        return np.frombuffer(bytes(self._keys), dtype=KEY)

    def values(self) -> np.ndarray:
        return np.frombuffer(bytes(self._values), dtype=np.dtype(f"S{self._width}"))

    def freeze(self) -> KeySet:
        return KeySet(self.keys(), self.values())


class KeySet:
    """Sorted keys with one value each (the last added wins when a key was added twice)."""

    def __init__(self, keys: np.ndarray, values: np.ndarray):
        # reversed + unique: np.unique keeps the first of equal keys, i.e. the last one added
        uniq, first = np.unique(keys[::-1], return_index=True)
        self.keys = uniq
        self.values = values[::-1][first]

    @classmethod
    def empty(cls, value_bytes: int = 16) -> KeySet:
        return KeyBuilder(value_bytes).freeze()

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each of `keys`: whether it is in the set, and its value (undefined where it is not)."""
        if len(self.keys) == 0:
            return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=self.values.dtype)
        pos = np.searchsorted(self.keys, keys)
        pos[pos == len(self.keys)] = 0
        return self.keys[pos] == keys, self.values[pos]

    def __contains__(self, k: bytes) -> bool:
        found, _ = self.lookup(np.array([k], dtype=KEY))
        return bool(found[0])


def first_occurrences(keys: np.ndarray) -> np.ndarray:
    """A mask of `keys` (in input order): True where a key is seen for the first time."""
    mask = np.zeros(len(keys), dtype=bool)
    if len(keys):
        mask[np.unique(keys, return_index=True)[1]] = True
    return mask
