"""musicgen: symbolic music generation with PyTorch Lightning and Hydra.

Importing musicgen before torch (every musicgen command does) makes PyTorch's OpenMP threads
wait passively unless the user already chose how they wait (``OMP_WAIT_POLICY``, or libgomp's
``GOMP_SPINCOUNT``): the runtime's default keeps idle threads spinning, which on a machine
shared with other work makes training steps many times slower (``python -m musicgen.bench
--only threads`` measures both side by side; the figures are in benchmarks/results).
"""

import os

if not {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"} & set(os.environ):
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

__version__ = "0.1.0"
