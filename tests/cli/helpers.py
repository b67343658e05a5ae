"""Checks shared by the command tests: a command's output, its one error line, its last line."""

from __future__ import annotations

from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import McpToken, Workspace
from tests import factories


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


def acme_with_two_inboxes():
    """The workspace the token command tests use: slug "acme", inboxes Support and Sales."""
    ws = factories.make_workspace(name="Acme", slug="acme")
    factories.make_inbox(ws, name="Support")
    factories.make_inbox(ws, name="Sales")
    return ws


def current_acme() -> Workspace:
    """The "acme" workspace as the database has it now."""
    db.session.expire_all()
    return db.session.execute(select(Workspace).where(Workspace.slug == "acme")).scalar_one()


def all_tokens() -> list[McpToken]:
    db.session.expire_all()
    return list(db.session.execute(select(McpToken).order_by(McpToken.id)).scalars())


def mint_in_acme(runner, group: str, *args) -> str:
    """`deskwoot GROUP mint acme ARGS`; the plaintext, checked to be alone on the last line."""
    result = runner.invoke(args=[group, "mint", "acme", *args])
    out = ok(result)
    plaintext = last_line(result)
    assert result.stdout.endswith(plaintext + "\n")  # nothing after it
    assert out.count(plaintext) == 1
    return plaintext
