"""The command line's own error: a flag combination that cannot work.

:func:`softreg.cli.main` reports it like any other error, one line on stderr, but exits with
status 2 (a usage error, as argparse's) instead of 1.
"""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(ValueError):
    """A command-line combination that cannot work (exit status 2)."""
