"""``python -m musicgen.models.export``: the name of the ``musicgen.commands.export`` command."""

if __name__ == "__main__":
    from musicgen.commands.export import main

    main()
