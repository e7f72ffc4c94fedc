"""What ``python -m musicgen.evaluate`` measures: dataset baselines (``datasets``), the decoding
transforms of a checkpoint (``transforms``) and the files that report them (``report``)."""
