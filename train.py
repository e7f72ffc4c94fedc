"""Train a model: ``python train.py model=mary model.blocks=2 trainer.max_epochs=150``.

The command is ``musicgen.commands.train`` (also installed as ``musicgen-train``).
"""

from musicgen.commands.train import main

if __name__ == "__main__":
    main()
