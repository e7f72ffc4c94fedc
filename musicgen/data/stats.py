"""``python -m musicgen.data.stats``: the name of the ``musicgen.commands.stats`` command."""

if __name__ == "__main__":
    from musicgen.commands.stats import main

    main()
