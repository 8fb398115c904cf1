"""Work over a long range in chunks, halving the chunk on out-of-memory: one rule for every chunked loop.

    run_in_chunks(T, 750, lambda a, b: out[a:b].copy_(work(a, b)), "audio features")

On out-of-memory the chunk is halved and the smaller size kept (the next chunks have the same shapes, so they
need the same memory); any other error, or out-of-memory at a chunk of one, propagates.
"""
import logging
from typing import Callable

from . import comfy_adapter

log = logging.getLogger(__name__)


def run_in_chunks(total: int, chunk: int, work: Callable[[int, int], None], what: str,
                  on_chunk: Callable[[int, int], None] | None = None) -> int:
    """Call work(start, stop) over [0, total) in chunks of at most `chunk`; on_chunk(start, stop) after each.

    Returns the chunk size that was kept (smaller than asked for after an out-of-memory).
    """
    chunk = max(1, int(chunk))
    start = 0
    while start < total:
        stop = min(start + chunk, total)
        try:
            work(start, stop)
        except RuntimeError as error:  # torch.OutOfMemoryError is a RuntimeError; only OOM is retried
            if not comfy_adapter.is_oom(error) or chunk == 1:
                raise
            chunk = max(1, chunk // 2)
            comfy_adapter.soft_empty_cache()
            log.warning("%s: out of memory, retrying with chunks of %d", what, chunk)
            continue
        log.debug("%s: %d..%d of %d", what, start, stop, total)
        if on_chunk is not None:
            on_chunk(start, stop)
        start = stop
    return chunk
