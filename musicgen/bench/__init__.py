"""Benchmarks: each fast path measured against the plain way of doing the same work.

``python -m musicgen.bench`` (``make bench``) runs them on this machine's CPU;
``python -m musicgen.bench.gpu`` measures bf16 training and cuDNN LSTMs on a CUDA device.
"""
