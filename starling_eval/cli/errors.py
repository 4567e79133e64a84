"""How the command line ends: the exit codes (DESIGN.md) and bad input as one line on stderr, for every group.

The library raises its own errors (DataError, BackendError, TemplateError, UnknownName, JudgeUnsupported,
pydantic's ValidationError); :func:`input_errors` turns them into :class:`InputError` at the command's edge,
importing each error type only when one happens so that ``--help`` stays instant.
"""

from __future__ import annotations

import functools
from typing import Any

import click

EXIT_CHECK_FAILED = 1  # a gate or check failed
EXIT_BAD_INPUT = 2  # bad input or usage
EXIT_INCOMPLETE = 3  # a run could not finish (failed calls are stored for a retry)


class InputError(click.ClickException):
    """Bad input: one line on stderr, exit 2."""

    exit_code = EXIT_BAD_INPUT


def input_errors(fn: Any) -> Any:
    """Turn our library's input errors into one-line exit-2 messages (imports only when one happens)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except Exception as exc:
            message = input_error_message(exc)
            if message is None:
                raise
            raise InputError(message) from exc

    return wrapper


def input_error_message(exc: Exception) -> str | None:
    from starling_eval.data import DataError

    if isinstance(exc, DataError):
        return str(exc)
    from starling_eval.judges.runner import JudgeUnsupported

    if isinstance(exc, JudgeUnsupported):
        return f"{exc}; the replies so far are stored: fix the judge (--judge-base-url/--judge-model) and re-run"
    from pydantic import ValidationError

    from starling_eval.backends.base import BackendError
    from starling_eval.backends.chat_template import TemplateError
    from starling_eval.registry import UnknownName

    if isinstance(exc, UnknownName):
        return exc.message
    if isinstance(exc, BackendError | TemplateError):
        return str(exc)
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"invalid option {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return None
