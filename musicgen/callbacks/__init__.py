"""Every Lightning callback of a training run, as ``conf/callbacks/`` names them.

``guards``: stop before a NaN poisons the weights, save and exit cleanly on SIGTERM / Ctrl+C.
``checkpointing``: the run's record in every checkpoint, atomic checkpoint writes.
``music_metrics``: generate, score and log samples every few epochs (``+callbacks=metrics``).
"""
