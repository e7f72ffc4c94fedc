"""End-to-end tests on a one-host SLURM cluster (``make test-cluster``)."""
