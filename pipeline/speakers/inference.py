"""How the speaker models run torch: inference only, on one intra-op thread.

The speaker stage runs beside the recognizer, which holds the other core.
These small networks (resemblyzer's LSTM, CAM++, the segmentation model) run
no faster on two threads, and OpenMP threads that wait on each other slow
them 4-8x when another process holds a core. The caller's thread setting
is restored afterwards, so other torch users in the process are untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def one_thread() -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.set_num_threads(threads)
