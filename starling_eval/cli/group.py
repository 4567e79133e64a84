"""The command group's behaviour at the edges: global options wherever they are typed, and how every run
of the command line ends (one line and an exit code, never a traceback for a known failure).

- ``--results`` and ``--data-dir`` are accepted before the command and after it (``run … --results X``,
  ``data verify --data-dir D``): every command gains them unless it has its own.
- A usage error is one line with a pointer to ``--help``, exit 2.
- SIGTERM is handled as SIGINT: the run in progress is marked ``interrupted`` (its finished work is stored)
  and the process exits 130 (SIGINT) or 143 (SIGTERM) with one line.
- An endpoint that never answered (exit 3) and a results folder that cannot be used (exit 2, or 3 when it is
  full or locked) end in one line naming the URL or the path.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from starling_eval.cli.errors import EXIT_BAD_INPUT, EXIT_INCOMPLETE

EXIT_SIGINT, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that the run in progress stops the way Ctrl-C stops it."""


def _on_sigterm(_signum: int, _frame: Any) -> None:
    raise Terminated()


def _set_results(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(dict)["results"] = value


def _set_data_dir(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """The data folder for every command of this process (DataDir reads STARLING_EVAL_DATA when not told)."""
    if value is not None:
        os.environ["STARLING_EVAL_DATA"] = str(Path(value).expanduser().resolve())
        ctx.ensure_object(dict)["data_dir"] = value


def results_option(**kwargs: Any) -> click.Option:
    return click.Option(["--results"], type=click.Path(file_okay=False, path_type=Path), callback=_set_results,
                        expose_value=False, is_eager=True,
                        help="Results root: runs/, the shared call cache and the run index.", **kwargs)


def data_dir_option() -> click.Option:
    return click.Option(["--data-dir"], type=click.Path(file_okay=False), callback=_set_data_dir, expose_value=False,
                        is_eager=True, help="Benchmark data folder [default: $STARLING_EVAL_DATA or the user cache].")


def _add_global_options(command: click.Command) -> None:
    names = {opt for param in command.params for opt in getattr(param, "opts", [])}
    if "--results" not in names:
        command.params.append(results_option())
    if "--data-dir" not in names:
        command.params.append(data_dir_option())


class HouseCommand(click.Command):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _add_global_options(self)


class HouseGroup(click.Group):
    """A group whose commands (and sub-groups) take the global options, and whose ``main`` ends every
    failure it knows in one line."""

    command_class = HouseCommand

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        _add_global_options(cmd)
        if isinstance(cmd, click.Group):
            for sub in cmd.commands.values():
                _add_global_options(sub)
        super().add_command(cmd, name)

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        previous = signal.signal(signal.SIGTERM, _on_sigterm) if _main_thread() else None
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else (prog_name or "starling-eval")
            click.echo(f"Error: {exc.format_message()} (see '{command} --help')", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort as exc:  # click's name for KeyboardInterrupt (and EOF at a prompt)
            terminated = isinstance(exc.__context__, Terminated) or isinstance(exc.__cause__, Terminated)
            click.echo("interrupted: finished work is stored; run the same command again to resume", err=True)
            sys.exit(EXIT_SIGTERM if terminated else EXIT_SIGINT)
        except Exception as exc:
            line, status = fatal_line(exc)
            if line is None:
                raise
            click.echo(f"Error: {line}", err=True)
            sys.exit(status)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        sys.exit(code if isinstance(code, int) else 0)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def fatal_line(exc: BaseException) -> tuple[str | None, int]:
    """(one line, exit code) for the failures that end a run from outside the user's input, or (None, 0)."""
    import errno

    from starling_eval.backends.retry import EndpointUnreachable
    from starling_eval.store.errors import StoreError, describe_os_error

    if isinstance(exc, EndpointUnreachable):
        return f"{exc}; finished work is stored: check the URL (or the server) and re-run", EXIT_INCOMPLETE
    if isinstance(exc, StoreError):
        return str(exc), exc.exit_code
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC,
                                                  getattr(errno, "EDQUOT", errno.ENOSPC)):
        error = describe_os_error(exc.filename or "?", exc)
        return str(error), error.exit_code
    return None, 0
