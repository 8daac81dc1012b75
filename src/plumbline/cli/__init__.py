"""The ``plumb`` command line. :func:`main` is the console script: it answers ``plumb``, ``plumb --help``
and ``plumb version`` without loading Typer (:mod:`plumbline.cli.quick`) and hands the rest to the
Typer application, ``plumbline.cli.app.app`` (decision 0027).
"""

from plumbline.cli.quick import main

__all__ = ["main"]
