"""The one error a backend raises for input it cannot use; a leaf module, so any backend module can raise it."""

from __future__ import annotations


class BackendError(Exception):
    """The model cannot be used as asked (bad path, missing package, bad option): a user input error."""
