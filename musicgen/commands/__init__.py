"""Every musicgen command, one module each, all of one shape.

A Hydra command is ``main = cli.hydra_command("<config>", job)``: ``conf/<config>.yaml`` composed
with the command line, ``job(cfg)`` run with one-line errors. The job is the module's own
function (or, for training, ``musicgen.training.train``); what it builds on lives in the packages
below. The one exception: commands whose arguments are files or folders (``sweep``, ``export``,
``curves``, ``keys``, and ``musicgen.bench``) read them with ``cli.ArgumentParser``, with the same
one-line errors.

| command | module | config |
| --- | --- | --- |
| ``python train.py`` / ``musicgen-train`` | ``train`` | ``conf/train.yaml`` |
| ``python sample.py`` / ``musicgen-sample`` | ``sample`` | ``conf/sample.yaml`` |
| ``python -m musicgen.evaluate`` / ``musicgen-evaluate`` | ``evaluate`` | ``conf/evaluate.yaml`` |
| ``python -m musicgen.data.stats`` / ``musicgen-stats`` | ``stats`` | ``conf/stats.yaml`` |
| ``python -m musicgen.demo`` / ``musicgen-demo`` | ``demo`` | ``conf/demo.yaml`` |
| ``python -m musicgen.sweep`` / ``musicgen-sweep`` | ``sweep`` | arguments |
| ``python -m musicgen.models.export`` / ``musicgen-export`` | ``export`` | arguments |
| ``python -m musicgen.render.curves`` / ``musicgen-curves`` | ``curves`` | arguments |
| ``python -m musicgen.evaluation.keys`` / ``musicgen-keys`` | ``keys`` | arguments |

The ``python -m`` names are the commands' first names, kept: each of those modules only hands
over to the command here when run as a script.
"""
