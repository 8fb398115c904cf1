"""Keep the CLI's resident heap at what it really holds (glibc's malloc_trim).

glibc keeps freed memory in the process: after a large block (a tensor above the mmap threshold, 128 KiB to
start) is freed, glibc raises the threshold to that block's size, so later blocks of that size come from the heap,
and freed there they stay resident. Between stages that carries one stage's temporaries into the next; within a
long render the heap fragments as chunk after chunk of frames comes and goes, and the highest point its
resident size swings to grows with the clip (streaming workflow at 512 px: peak 469 MiB for 10 s, 483 for 5 min,
515 for an hour). So the CLI hands freed heap back after every node (`return_freed_heap`) and, while a node
reports progress, at most once a second (`trimming_progress`). A fixed mmap threshold would do the same for the
render but costs a page fault per page of every tensor (+0.15 CPU s per video second at 512 px, measured); a trim
once a second costs the re-faulting of one second's freed pages. No-ops where glibc is absent (macOS, Windows, musl).
Inside ComfyUI the pack leaves the server's allocator alone.
"""
import ctypes
import ctypes.util
import time
from typing import Callable

TRIM_INTERVAL_S = 1.0  # while a node runs, hand freed heap back at most this often

_malloc_trim = None  # glibc's malloc_trim once looked up; False where there is none


def return_freed_heap() -> None:
    """Hand freed heap pages back to the OS (glibc's malloc_trim(0): every arena, holes included)."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError, TypeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


def trimming_progress(progress: Callable[[int, int], None] | None, interval: float = TRIM_INTERVAL_S,
                      clock: Callable[[], float] = time.monotonic) -> Callable[[int, int], None]:
    """A progress callable(done, total) that forwards to `progress` (if any) and trims the heap at most once per
    `interval` seconds: nodes report progress once per chunk, so a long render is trimmed as it goes."""
    last = [clock()]

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(done, total)
        now = clock()
        if now - last[0] >= interval:
            last[0] = now
            return_freed_heap()

    return report
