"""Write music with a trained model: ``python sample.py ckpt_path=latest sampler=topk sampler.k=15``.

The command is ``musicgen.commands.sample`` (also installed as ``musicgen-sample``).
"""

from musicgen.commands.sample import main

if __name__ == "__main__":
    main()
