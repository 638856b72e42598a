"""The benchmarks' table: rows of (measure, value, reference, ratio), padded to align, with a header."""

from __future__ import annotations


def print_table(rows: list[tuple[str, str, str, str]], head: tuple[str, str, str, str]) -> None:
    width = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    print(" | ".join(h.ljust(w) for h, w in zip(head, width, strict=True)))
    print("-|-".join("-" * w for w in width))
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r, width, strict=True)))
