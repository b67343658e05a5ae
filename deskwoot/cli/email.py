"""`deskwoot email receive WORKSPACE INBOX < message.eml` (the MTA pipe) and `deskwoot email
poll WORKSPACE INBOX` (one IMAP poll now).

The pipe speaks the sendmail exit codes (sysexits.h) an MTA acts on: 0 when the mail was taken
(stored, a duplicate, a bounce handled, or ignored on purpose — one line says which),
75 EX_TEMPFAIL when the database is unavailable or locked (the MTA keeps the mail and retries),
65 EX_DATAERR for input that is no mail at all, 67 EX_NOUSER for an unknown workspace or inbox
or one that is not an email inbox. Postfix bounces the mail to its sender on 65 and 67.
"""

from __future__ import annotations

import logging
import sys

import click
from flask.cli import with_appcontext

from deskwoot import policy
from deskwoot.channels.email import inbound as email_inbound
from deskwoot.channels.email.parse import MAX_BYTES, UnreadableMail
from deskwoot.cli.common import inboxes_by_name, operation
from deskwoot.database import migrate
from deskwoot.delivery import mailboxes
from deskwoot.delivery.worker import worker_name
from deskwoot.errors import NotFound
from deskwoot.models import Inbox
from deskwoot.services.directory import workspaces

log = logging.getLogger(__name__)

EX_DATAERR = 65
EX_NOUSER = 67
EX_TEMPFAIL = 75


class _NoMailbox(Exception):
    """The workspace or inbox named on the command line cannot take email."""


@click.group("email")
def email_group() -> None:
    """Receive email for an inbox: the MTA pipe, and IMAP polling on demand."""


@email_group.command("receive")
@click.argument("workspace")
@click.argument("inbox")
@with_appcontext
def receive(workspace: str, inbox: str) -> None:
    """Store the email on standard input in INBOX (for an MTA: exit 0 taken, 75 try again
    later, 65 not a mail, 67 no such inbox)."""
    raw = sys.stdin.buffer.read(MAX_BYTES + 1)
    try:
        if not migrate.is_current():
            _leave(EX_TEMPFAIL, "temporary failure: the database schema is not up to date")
        target = _email_inbox(workspace, inbox)
        result = email_inbound.receive(target, raw)
    except UnreadableMail as exc:
        log.warning("email receive %s/%s refused: %s", workspace, inbox, exc.reason)
        _leave(EX_DATAERR, f"refused: {exc.reason}")
    except _NoMailbox as exc:
        _leave(EX_NOUSER, str(exc))
    except Exception as exc:
        if email_inbound.temporary_failure(exc):
            _leave(EX_TEMPFAIL, f"temporary failure: the database is unavailable ({_why(exc)})")
        # Unknown trouble: keep the mail queued at the MTA rather than lose it.
        log.exception("email receive %s/%s", workspace, inbox)
        _leave(EX_TEMPFAIL, f"temporary failure: internal error ({type(exc).__name__})")
    click.echo(result.line())


@email_group.command("poll")
@click.argument("workspace")
@click.argument("inbox")
@with_appcontext
@operation
def poll(workspace: str, inbox: str) -> None:
    """Poll INBOX's IMAP mailbox once, now, and say what it took."""
    try:
        target = _email_inbox(workspace, inbox)
    except _NoMailbox as exc:
        raise click.ClickException(str(exc)) from None
    if not target.imap_url:
        raise click.ClickException(f"'{target.name}' has no IMAP mailbox to poll.")
    report = mailboxes.poll_now(target.id, f"cli:{worker_name()}")
    if report is None:
        raise click.ClickException(
            f"Another worker is polling the mailbox of '{target.name}' right now; try again "
            "in a moment."
        )
    for uid, summary in report.taken:
        click.echo(f"UID {uid}: {summary}")
    count = len(report.taken)
    click.echo(f"Took {count} message{'' if count == 1 else 's'} from '{target.name}'.")
    if report.error:
        raise click.ClickException(f"The poll stopped early: {report.error}")


def _email_inbox(slug: str, name: str) -> Inbox:
    try:
        ws = workspaces.get_by_slug(slug)
        (found,) = inboxes_by_name(policy.system_actor(ws), slug, (name,))
    except NotFound as exc:
        raise _NoMailbox(exc.message) from None
    if found.channel != "email":
        raise _NoMailbox(f"'{found.name}' is an {found.channel} inbox, not an email inbox.")
    return found


def _why(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _leave(code: int, line: str):
    click.echo(line, err=True)
    sys.exit(code)
