"""``python -m ragserve.client.cli`` = the ``ragserve`` command."""

from ragserve.client.cli.main import main

main()
