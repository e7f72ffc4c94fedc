# Set-up and everyday commands. `make install` then `make test` is all a fresh clone needs.
PYTHON ?= python
PIP := $(PYTHON) -m pip
TORCH_CPU := torch==2.13.0

.PHONY: install test test-avx2 test-slow test-cluster lint bench bench-peers train sample clean

install:
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		echo "NVIDIA GPU found: leaving the CUDA build of torch to pip"; \
	elif $(PYTHON) -c "import torch" >/dev/null 2>&1; then \
		echo "torch already installed: $$($(PYTHON) -c 'import torch; print(torch.__version__)')"; \
	else \
		echo "no NVIDIA GPU: installing the CPU build of torch ($(TORCH_CPU))"; \
		$(PIP) install -q $(TORCH_CPU); \
	fi
	$(PIP) install -q -e ".[dev]"

test:
	$(PYTHON) -m pytest -q

# The suite as a CPU without AVX-512 or native bf16 runs it: oneDNN capped at AVX2 has no bf16.
test-avx2:
	ONEDNN_MAX_CPU_ISA=AVX2 $(PYTHON) -m pytest -q

test-slow:
	$(PYTHON) -m pytest -q -m slow

# Starts a one-host SLURM cluster (tests/cluster/slurm.sh; installs slurm + munge as root when
# missing), runs the end-to-end cluster tests on it and stops it; they skip where it cannot start.
test-cluster:
	$(PYTHON) -m pytest -q -m cluster tests/cluster

lint:
	$(PYTHON) -m ruff check .

# Results go to benchmarks/results/<date>-<host>.json and .md (and latest.md).
bench:
	$(PYTHON) -m musicgen.bench

# Also the peers (pip install -e ".[peers]" first, best in a virtual environment of its own).
bench-peers:
	$(PYTHON) -m musicgen.bench --peers

train:
	$(PYTHON) train.py

sample:
	$(PYTHON) sample.py ckpt_path=latest

clean:
	rm -rf outputs multirun lightning_logs .pytest_cache
