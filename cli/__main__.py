"""``python -m cli``: the ``zsmc`` command."""

from cli.app import main

main()
