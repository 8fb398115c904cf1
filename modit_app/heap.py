"""Keep the process's resident heap at what it really holds (glibc's malloc_trim and mmap threshold).

glibc keeps freed memory in the process. Two habits of its allocator make a long render's peak RSS grow with
the clip although the live data does not:
- after a large block (a tensor above the mmap threshold, 128 KiB to start) is freed, glibc raises the threshold
  to that block's size, so later blocks of that size come from the heap; freed there they stay resident, and
  the heap fragments as chunk after chunk of frames comes and goes. Measured on the streaming workflow at
  512 px: RSS during the render swung 426-483 MiB, and the highest swing an hour reaches set its peak.
  A fixed threshold (`bound_mmap_threshold`) gives every block of frames its own mapping, returned on free:
  the render's RSS then swung 382-420 MiB, and its peak no longer depends on the clip's length.
- freed heap between stages stays resident (`return_freed_heap`, called after each node).
Both are no-ops where glibc is absent (macOS, Windows, musl). The CLI's process is ours to tune; inside
ComfyUI the pack leaves the server's allocator alone.
"""
import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)
MMAP_THRESHOLD_BYTES = 256 * 1024  # blocks this large or larger get their own mapping, returned when freed

_libc = None  # glibc once looked up; False where there is none


def _glibc():
    global _libc
    if _libc is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _libc = libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else False
        except (OSError, TypeError):
            _libc = False
    return _libc


def return_freed_heap() -> None:
    """Hand freed heap pages back to the OS (between the stages of one run)."""
    if libc := _glibc():
        libc.malloc_trim(0)


def bound_mmap_threshold(size: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at `size` bytes (no dynamic raise): True if set."""
    if libc := _glibc():
        return bool(libc.mallopt(M_MMAP_THRESHOLD, int(size)))
    return False
