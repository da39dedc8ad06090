"""The ``bastion`` command line: a thin layer over the library.

Each command module registers its commands on the groups of :mod:`bastion.cli.app`.
:func:`main` turns any :class:`~bastion.exceptions.BastionError` into one red line on
stderr and exit code 2.
"""

from __future__ import annotations

import sys

from bastion.cli.app import app, load_commands
from bastion.exceptions import BastionError


def main() -> None:
    """Entry point of the ``bastion`` console script."""
    try:
        app()
    except BastionError as error:
        from bastion.cli.common import print_error

        print_error(error)
        sys.exit(2)


__all__ = ["app", "load_commands", "main"]
