"""musicgen: symbolic music generation with PyTorch Lightning and Hydra.

Importing musicgen before torch does any work (every musicgen command does) sets three
process-wide CPU settings that the benchmarks showed matter more than any kernel
(``benchmarks/README.md``):

- PyTorch's OpenMP threads spin briefly, then sleep (libgomp's ``GOMP_SPINCOUNT=3000``), unless
  the user already chose how they wait (``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``). The runtime's
  default spins a hundred times longer, which on a machine shared with other work makes
  training steps many times slower; never spinning (``PASSIVE``) makes every small operation
  wake a sleeping thread, which halved batch-1 generation on an idle machine.
- Denormal floats are flushed to zero (``torch.set_flush_denormal``; ``MUSICGEN_FLUSH_DENORMAL=0``
  keeps them). Gradients that fade through a long recurrence reach the denormal range, where x86
  arithmetic is about a hundred times slower: oneDNN's LSTM backward ran 5x slower after a few
  optimizer steps. TensorFlow flushes them in its own threads. Threads inherit the setting when
  they start, so it must come before torch's thread pool exists.
- Freed memory stays with the process (glibc only; ``MUSICGEN_KEEP_FREED_MEMORY=0`` turns it
  off). glibc gives every block over 32 MB back to the kernel when it is freed, so each training
  step faulted its large activations and oneDNN's LSTM workspaces in again, page by page: the
  LSTM's step was 1.2x slower. Blocks now come from the heap, which is never trimmed: a process
  keeps its peak memory, and the next step reuses it (a 1 GiB trim threshold still left the
  LSTM composer's 2 GiB step 1.1x slower).
"""

import ctypes
import os
import platform

if not {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"} & set(os.environ):
    os.environ["GOMP_SPINCOUNT"] = "3000"

import torch  # noqa: E402  (after the OpenMP settings, which torch reads when it loads)

if os.environ.get("MUSICGEN_FLUSH_DENORMAL", "1") != "0":
    torch.set_flush_denormal(True)

if os.environ.get("MUSICGEN_KEEP_FREED_MEMORY", "1") != "0" and platform.libc_ver()[0] == "glibc":
    _M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt's parameters, from glibc's malloc.h
    _libc = ctypes.CDLL(None)
    _libc.mallopt(_M_MMAP_MAX, 0)
    _libc.mallopt(_M_TRIM_THRESHOLD, -1)  # -1: never trim the heap

__version__ = "0.1.0"
