"""``python -m musicgen.evaluate``: the name of the ``musicgen.commands.evaluate`` command."""

if __name__ == "__main__":
    from musicgen.commands.evaluate import main

    main()
