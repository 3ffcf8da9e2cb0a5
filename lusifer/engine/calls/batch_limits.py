"""The vendors' limits on one batch, and splitting queued requests into batches that respect them.

OpenAI's Batch API takes at most 50,000 requests and a 200 MB input file per batch; Anthropic's Message
Batches at most 100,000 requests and 256 MB per batch. :class:`~lusifer.engine.calls.batch.BatchCallLayer`
sends a larger queue as several batches, submitted and polled concurrently; each is stored with its
request keys as soon as it is submitted, so a rerun polls all of them instead of submitting anew.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MB = 1_000_000


@dataclass(frozen=True)
class BatchLimits:
    """The most requests, and bytes of request bodies, one vendor batch accepts."""

    max_requests: int
    max_bytes: int


OPENAI_BATCH_LIMITS = BatchLimits(max_requests=50_000, max_bytes=200 * MB)
ANTHROPIC_BATCH_LIMITS = BatchLimits(max_requests=100_000, max_bytes=256 * MB)


def split_batches(sizes: Mapping[str, int], limits: BatchLimits) -> tuple[list[list[str]], list[str]]:
    """Split request keys (in order, with their sizes in bytes) into batches within ``limits``.

    Returns the batches and the keys of requests too large for any batch.
    """
    batches: list[list[str]] = []
    too_large: list[str] = []
    current: list[str] = []
    used = 0
    for key, size in sizes.items():
        if size > limits.max_bytes:
            too_large.append(key)
            continue
        if current and (len(current) >= limits.max_requests or used + size > limits.max_bytes):
            batches.append(current)
            current, used = [], 0
        current.append(key)
        used += size
    if current:
        batches.append(current)
    return batches, too_large
