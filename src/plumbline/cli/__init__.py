"""The ``plumb`` command line."""

from plumbline.cli.app import app, main

__all__ = ["app", "main"]
