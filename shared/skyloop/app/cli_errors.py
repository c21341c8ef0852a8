"""One line for every everyday mistake: the CLI's error boundary.

A new user who typos a setting, picks a busy port or points ``--home`` at a file should
read one line that says what to do, not a 45-line box or a traceback. Every command
runs inside :class:`OneLineErrors`; an error becomes ``error [code] reason`` on stderr
with exit code 2, and ``--debug`` (or ``SKYLOOP_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import errno
import sqlite3
import os
import sys
from typing import Any, Sequence

import typer
from typer.core import TyperGroup

from ..errors import SkyloopError, one_line

EXIT_USAGE = 2
# click's exception base, found through a public class: recent typer vendors click
# (typer._click), older typer uses click itself, and the boundary must catch either
ClickException: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def debugging(argv: list[str] | None = None) -> bool:
    args = sys.argv[1:] if argv is None else argv
    return "--debug" in args or os.environ.get("SKYLOOP_DEBUG", "") not in ("", "0", "false")


def _os_hint(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    if exc.errno == errno.EADDRINUSE:
        return "that address is already in use: stop what listens there or pick another --port"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write{where}: {exc.strerror}; choose a writable folder (--home, SKYLOOP_HOME or --out)"
    if exc.errno == errno.ENOTDIR:
        return f"{where.strip() or 'a path'} is a file where a folder is needed (check --home / --out)"
    if exc.errno == errno.ENOENT:
        return f"no such file or folder:{where}"
    if exc.errno == errno.ENOSPC:
        return f"the disk is full{(' at' + where) if where else ''}"
    return f"{exc.strerror or type(exc).__name__}{(':' + where) if where else ''}"


def describe(exc: BaseException) -> tuple[str, str]:
    """(code, one-line reason) for any exception a command can raise."""
    from pydantic import ValidationError

    from ..config import describe_validation_error

    if isinstance(exc, SkyloopError):
        return exc.code, exc.reason
    if isinstance(exc, ValidationError):
        return "invalid_setting", describe_validation_error(exc)
    if isinstance(exc, ClickException):
        return "usage", exc.format_message() + " (see --help)"  # type: ignore[attr-defined]
    if isinstance(exc, UnicodeDecodeError):
        return "not_utf8", f"a file is not UTF-8 text (byte {exc.start}); save it as UTF-8"
    if isinstance(exc, OSError):
        return "os_error", _os_hint(exc)
    if isinstance(exc, MemoryError):
        return "out_of_memory", "out of memory: the input is too large for this machine"
    if isinstance(exc, OverflowError) or (isinstance(exc, ValueError) and "too large to convert" in str(exc)):
        return "invalid_number", "a number is out of range (a version, a count): use a smaller one"
    if type(exc).__name__ in ("ParserError", "EmptyDataError"):  # pandas' CSV reader, by name: no pandas import here
        return "invalid_csv", f"the file does not parse as CSV: {str(exc).strip()[:160]}"
    if isinstance(exc, sqlite3.Error):
        return _sqlite_error(exc)
    denied = _denied(exc)
    if denied is not None:
        return "access_denied", denied
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        extra = _EXTRA_OF.get(exc.name.split(".")[0])
        hint = f"pip install 'skyloop[{extra}]'" if extra else f"pip install {exc.name.split('.')[0]}"
        return "missing_dependency", f"this command needs {exc.name.split('.')[0]}, which is not installed: {hint}"
    return "internal_error", f"{type(exc).__name__}: {str(exc)[:200]} (a bug: run again with --debug for the traceback)"


# how each cloud's SDK says the caller lacks a permission, and where it names the permission
_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "Forbidden"}
_PERMISSION = (r"not authorized to perform: ([\w:*-]+)", r"Permission '([\w.]+)' denied",
               r"authorization to perform action '([^']+)'", r"permission ([\w.]+) ")


def _denied(exc: BaseException) -> str | None:
    """A cloud's permission refusal (--cloud), as one line naming the permission, read by shape: the
    core imports no SDK. None for anything else."""
    import re

    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
    if code not in _DENIED_CODES and type(exc).__name__ not in ("PermissionDenied", "Forbidden") and status != 403:
        return None
    text = str(exc)
    found = next((m.group(1) for pattern in _PERMISSION if (m := re.search(pattern, text))), None)
    what = f"the permission {found}" if found else "a permission this command needs"
    return f"your identity lacks {what}: ask for it on the deployment's resources (the README's Operate section)"


# the optional extras a missing module comes from (pyproject.toml)
_EXTRA_OF = {"boto3": "aws", "botocore": "aws", "google": "gcp", "azure": "azure",
             "PIL": "ai", "pytesseract": "ai", "langid": "ai", "vaderSentiment": "ai", "mlflow": "mlflow"}


def _sqlite_error(exc: Exception) -> tuple[str, str]:
    text = str(exc)
    if "full" in text.lower():
        return "os_error", "the disk is full: the state database cannot be written (free space, or --home elsewhere)"
    if "readonly" in text.lower() or "read-only" in text.lower():
        return "os_error", "the state database is read-only: choose a writable folder (--home or SKYLOOP_HOME)"
    if "locked" in text.lower():
        return "busy", "the state database is locked by another skyloop process; try again"
    return "state_error", f"the state database failed: {text[:160]}"


def say_error(code: str, reason: str) -> None:
    typer.echo(f"error [{code}] {one_line(reason)}", err=True)


class OneLineErrors(TyperGroup):
    """Typer's group, with every failure, parse errors included, reported in one line."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:
        argv = list(args) if args is not None else sys.argv[1:]
        if "--debug" in argv[1:] and "--" not in argv[: argv.index("--debug")]:
            # a global flag, wherever it is typed: `skyloop models --debug` was "no such option"
            argv = ["--debug", *(a for a in argv if a != "--debug")]
        try:
            rv = super().main(args=argv, prog_name=prog_name, complete_var=complete_var, standalone_mode=False,
                              windows_expand_args=windows_expand_args, **extra)
            code = rv if isinstance(rv, int) else 0
        except typer.Abort:
            say_error("aborted", "interrupted")
            code = 130
        except typer.Exit as exc:  # raised before a command ran (--help)
            code = exc.exit_code
        except Exception as exc:  # noqa: BLE001 - the boundary: everything becomes one line
            if debugging(argv):
                raise
            if type(exc).__name__ != "NoArgsIsHelpError":  # the help it stands for is already printed
                say_error(*describe(exc))
            code = EXIT_USAGE
        if standalone_mode:
            sys.exit(code)
        return code


__all__ = ["OneLineErrors", "debugging", "describe", "say_error"]
