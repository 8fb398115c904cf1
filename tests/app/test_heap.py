"""The CLI's allocator settings (modit_app/heap.py): a fixed mmap threshold returns freed frame blocks to the OS."""
import ctypes.util
import platform

import pytest
import torch

from comfyui_modit.modit_app import heap

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="glibc's mallopt / malloc_trim only exist on glibc Linux")


def resident_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@glibc
def test_bound_mmap_threshold_is_set_and_repeatable():
    assert heap.bound_mmap_threshold()
    assert heap.bound_mmap_threshold()  # a second call (a second run_graph in one process) is harmless
    heap.return_freed_heap()


@glibc
def test_freed_chunk_sized_blocks_leave_the_process():
    """Chunks of frames of varying size, each filled then freed: with the threshold fixed none stays resident."""
    heap.bound_mmap_threshold()
    heap.return_freed_heap()
    before = resident_mib()
    for step in range(40):
        block = torch.empty(8 + step % 5, 256, 256, 3, dtype=torch.float32)  # 6-9 MiB, like a 512 px chunk's box
        block.fill_(1.0)
        del block
    assert resident_mib() - before < 4.0
