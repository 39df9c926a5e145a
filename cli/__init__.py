"""The `perpvol` command: `cli.main` parses, each command in `cli.commands` imports what it runs."""
