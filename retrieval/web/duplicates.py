"""Near-duplicate texts (wire copies): MinHash over word shingles, with SimHash kept as the measured alternative."""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

SHINGLE = 5  # words a shingle: long enough that two articles on one topic share few, short enough to survive edits
NUM_PERM = 128  # the Jaccard estimate's standard error is about 0.04 at J = 0.5 with 128 permutations
# Containment (the shared share of the shorter text) at or over this makes a copy. Chosen on
# benchmarks/near_duplicates.py: precision 0.997, recall 0.981 over 156,520 pairs; distinct articles on
# one topic stay under 0.05, follow-ups quoting two sentences under 0.4, edited copies mostly over 0.8.
# SimHash's best there (18 of 64 bits) reached precision 0.924, recall 0.744: so MinHash.
THRESHOLD = 0.5
_PRIME = np.uint64(4294967291)  # the largest prime under 2**32: (a * h + b) stays inside 64 bits
# One character a token for scripts written without spaces (CJK), words elsewhere.
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]|[^\W_]+")
_rng = np.random.default_rng(20240601)  # fixed: signatures must compare across runs and processes
_A = _rng.integers(1, int(_PRIME), NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, int(_PRIME), NUM_PERM, dtype=np.uint64)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def shingles(text: str, k: int = SHINGLE) -> np.ndarray:
    """The distinct k-token shingles of a text as 32-bit hashes (uint64 array); one shingle when shorter than k."""
    words = tokens(text)
    grams = {" ".join(words[i:i + k]) for i in range(max(len(words) - k + 1, 1))} if words else set()
    hashed = [int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little") for g in grams]
    return np.unique(np.array(hashed, dtype=np.uint64))


def minhash(hashed: np.ndarray) -> np.ndarray:
    """NUM_PERM minimum hashes of the shingle set under fixed random permutations (universal hashing mod a prime)."""
    if hashed.size == 0:
        return np.full(NUM_PERM, int(_PRIME), dtype=np.uint64)
    return ((np.outer(hashed, _A) + _B) % _PRIME).min(axis=0)


def simhash(hashed: np.ndarray) -> int:
    """A 64-bit SimHash of the shingle set: each bit the majority vote of the shingles' 64-bit hashes."""
    if hashed.size == 0:
        return 0
    wide = (hashed * np.uint64(0x9E3779B97F4A7C15)) ^ (hashed << np.uint64(29))  # spread 32 bits over 64
    bits = (wide[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    votes = bits.sum(axis=0) * 2 > hashed.size
    return sum(1 << int(i) for i in np.flatnonzero(votes))


def containment(j: float, size_a: int, size_b: int) -> float:
    """The share of the smaller set inside the other, from a Jaccard index and the two sizes."""
    if min(size_a, size_b) == 0:
        return 0.0
    return min(1.0, j * (size_a + size_b) / (1 + j) / min(size_a, size_b))


class NearDuplicates:
    """Texts seen so far, to ask of a new text: which one is it a copy of?

    Containment rather than Jaccard: a wire copy is often cut (the last paragraphs dropped) or
    padded (a site's own introduction), which sinks Jaccard while the shared share stays high.
    Brute force over the signatures: one lookup among 10,000 articles takes about 1.5 ms here.
    """

    def __init__(self, threshold: float = THRESHOLD):
        self.threshold = threshold
        self.keys: list[str] = []
        # Grown by doubling: adding n texts one by one costs O(n), not the O(n^2) of stacking each time.
        self._signatures = np.zeros((16, NUM_PERM), dtype=np.uint64)
        self._sizes = np.zeros(16, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: str, text: str) -> None:
        hashed = shingles(text)
        n = len(self.keys)
        if n == len(self._sizes):
            self._signatures = np.concatenate([self._signatures, np.zeros_like(self._signatures)])
            self._sizes = np.concatenate([self._sizes, np.zeros_like(self._sizes)])
        self._signatures[n] = minhash(hashed)
        self._sizes[n] = hashed.size
        self.keys.append(key)

    def find(self, text: str) -> tuple[str, float] | None:
        """(key, containment) of the closest text at or over the threshold, or None."""
        if not self.keys:
            return None
        hashed = shingles(text)
        if hashed.size == 0:
            return None
        n = len(self.keys)
        jaccard = (self._signatures[:n] == minhash(hashed)).mean(axis=1)
        sizes = self._sizes[:n]
        shared = jaccard * (sizes + hashed.size) / (1 + jaccard)
        scores = np.minimum(1.0, shared / np.maximum(np.minimum(sizes, hashed.size), 1))
        best = int(np.argmax(scores))
        return (self.keys[best], float(scores[best])) if scores[best] >= self.threshold else None


def group(texts: dict[str, str], threshold: float = THRESHOLD) -> list[list[str]]:
    """The keys of `texts` in groups of copies (each group in key order; singletons included), first key first."""
    index = NearDuplicates(threshold)
    groups: dict[str, list[str]] = {}
    for key in sorted(texts):
        found = index.find(texts[key])
        if found is None:
            index.add(key, texts[key])
            groups[key] = [key]
        else:
            groups[found[0]].append(key)
    return list(groups.values())
