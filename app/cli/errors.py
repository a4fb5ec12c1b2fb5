"""How CLI commands report failures: one clear line on stderr and a non-zero exit code."""

from __future__ import annotations

import sys


class CliError(Exception):
    """A user-facing failure; the message is printed as is and the command exits with ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 1) -> int:
    print(f"garment-studio: error: {message}", file=sys.stderr)
    return code
