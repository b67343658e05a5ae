"""Checks shared by the command tests: a command's output, its one error line, its last line."""

from __future__ import annotations


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def assert_error(result, text: str) -> None:
    """The command failed with exactly one `Error:` line on stderr."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and text in lines[0], lines[0]
    assert "Traceback" not in result.output


def last_line(result) -> str:
    return result.stdout.strip().splitlines()[-1]
