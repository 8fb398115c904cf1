"""The CLI's heap trimming (modit_app/heap.py): freed frame-sized blocks leave the process, and a long node is
trimmed as it reports progress, at most once per interval."""
import platform

import pytest
import torch

from comfyui_modit.modit_app import heap

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="glibc's malloc_trim only exists on glibc Linux")


def resident_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@glibc
def test_freed_chunk_sized_blocks_leave_the_process_after_a_trim():
    """Chunks of frames of varying size, each filled then freed (a render's pattern): glibc keeps ~10 MiB of them
    resident (its raised mmap threshold puts the later ones on the heap); a trim hands them back."""
    heap.return_freed_heap()
    before = resident_mib()
    for step in range(40):
        block = torch.empty(8 + step % 5, 256, 256, 3, dtype=torch.float32)  # 6-9 MiB, like a 512 px chunk's box
        block.fill_(1.0)
        del block
    heap.return_freed_heap()
    assert resident_mib() - before < 4.0


def test_trimming_progress_forwards_every_update_and_trims_at_most_once_per_interval(monkeypatch):
    trims, heard, now = [], [], [0.0]
    monkeypatch.setattr(heap, "return_freed_heap", lambda: trims.append(now[0]))
    report = heap.trimming_progress(lambda done, total: heard.append((done, total)), interval=1.0,
                                    clock=lambda: now[0])
    for step in range(1, 31):  # 30 chunks, 0.25 s apart
        now[0] = step * 0.25
        report(step, 30)
    assert heard == [(step, 30) for step in range(1, 31)]
    assert trims == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]


def test_trimming_progress_without_a_listener_still_trims(monkeypatch):
    trims, now = [], [0.0]
    monkeypatch.setattr(heap, "return_freed_heap", lambda: trims.append(now[0]))
    report = heap.trimming_progress(None, interval=1.0, clock=lambda: now[0])
    now[0] = 2.0
    report(1, 2)
    assert trims == [2.0]
