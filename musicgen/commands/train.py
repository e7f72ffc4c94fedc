"""``python train.py``: fit a model (``musicgen.training``; config ``conf/train.yaml``).

``python train.py model=mary model.blocks=2 trainer.max_epochs=150``
"""

from musicgen.cli import hydra_command
from musicgen.training import train

main = hydra_command("train", train)

if __name__ == "__main__":
    main()
