"""``python -m musicgen.demo``: the name of the ``musicgen.commands.demo`` command."""

if __name__ == "__main__":
    from musicgen.commands.demo import main

    main()
