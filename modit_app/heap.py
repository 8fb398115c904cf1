"""Hand freed heap pages back to the OS between the stages of one run (glibc's malloc_trim).

glibc keeps freed memory in the process: after a large tensor is freed its mmap threshold rises, so the next
stage's temporaries of that size come from the heap and stay resident when freed. Over an hour of audio the
per-frame temporaries of sampling (several [T, K] tensors) would then ride along through the render. The CLI calls
this after each node. A no-op where glibc is absent (macOS, Windows, musl).
"""
import ctypes
import ctypes.util

_malloc_trim = None  # glibc's malloc_trim once looked up; False where there is none


def return_freed_heap() -> None:
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError, TypeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)
