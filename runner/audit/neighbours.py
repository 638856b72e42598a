"""Similarity of pooled features, block by block: near-duplicate pairs, leaks across two sets, and how far each
image is from its nearest neighbours (outliers). Never an n x n matrix: one block of rows against all rows at a
time, so memory is ``block x n`` floats however many images there are."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK = 512  # rows per block: 512 x 25,000 similarities are 51 MB of float32


def normalised(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32), so a dot product is the cosine similarity."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@dataclass
class Neighbours:
    pairs: list[tuple[int, int, float]]  # (i, j, similarity) with i < j and similarity >= the threshold
    knn: np.ndarray  # (n,) mean cosine distance to the k nearest other rows


def scan(z: np.ndarray, threshold: float, k: int = 10, block: int = BLOCK) -> Neighbours:
    """Near-duplicate pairs (cosine >= ``threshold``) and each row's mean distance to its ``k`` nearest neighbours,
    for unit-length rows ``z``."""
    n = len(z)
    k = max(1, min(k, n - 1))
    pairs: list[tuple[int, int, float]] = []
    knn = np.zeros(n, dtype=np.float32)
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        sim = z[lo:hi] @ z.T
        sim[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf  # not its own neighbour
        top = np.partition(sim, n - k, axis=1)[:, n - k :]
        knn[lo:hi] = 1.0 - top.mean(axis=1)
        rows, cols = np.nonzero(sim >= threshold)
        keep = cols > rows + lo  # each pair once
        pairs += [(int(r + lo), int(c), float(sim[r, c])) for r, c in zip(rows[keep], cols[keep], strict=True)]
    return Neighbours(pairs, knn)


def across(a: np.ndarray, b: np.ndarray, threshold: float, block: int = BLOCK) -> list[tuple[int, int, float]]:
    """Pairs (row of ``a``, row of ``b``, similarity) with cosine >= ``threshold`` (e.g. test images that repeat
    training images)."""
    out: list[tuple[int, int, float]] = []
    for lo in range(0, len(a), block):
        sim = a[lo : lo + block] @ b.T
        rows, cols = np.nonzero(sim >= threshold)
        out += [(int(r + lo), int(c), float(sim[r, c])) for r, c in zip(rows, cols, strict=True)]
    return out


def groups(n: int, pairs: list[tuple[int, int, float]]) -> list[tuple[list[int], float]]:
    """Connected groups of the pairs (union-find), each with its smallest pairwise similarity, largest group first."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in pairs:
        parent[root(i)] = root(j)
    members: dict[int, list[int]] = {}
    low: dict[int, float] = {}
    for i, _, s in pairs:
        r = root(i)
        low[r] = min(low.get(r, 1.0), s)
    for i in range(n):
        members.setdefault(root(i), []).append(i)
    found = [(sorted(m), low[r]) for r, m in members.items() if len(m) > 1]
    return sorted(found, key=lambda g: (-len(g[0]), g[0][0]))


def outlier_cut(scores: np.ndarray, spread: float = 4.0) -> float:
    """Scores above median + ``spread`` x the median absolute deviation are outliers (robust to the outliers)."""
    med = float(np.median(scores))
    mad = float(np.median(np.abs(scores - med))) * 1.4826
    return med + spread * max(mad, 1e-6)
