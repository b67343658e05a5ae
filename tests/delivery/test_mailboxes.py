"""The worker's IMAP polling against a real dovecot (tests/mail_servers.py): nothing read twice
or skipped across polls, \\Seen set, a UIDVALIDITY change handled by dedupe, a server that is
down recorded for Settings while the worker goes on, two pollers at once taking each message
once, and `deskwoot email poll`."""

from __future__ import annotations

import threading
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from deskwoot.channels.email import imap_poll
from deskwoot.delivery import mailboxes
from deskwoot.delivery.worker import Worker
from deskwoot.extensions import db
from deskwoot.models import Inbox, Message
from tests import mail_servers
from tests.channels.email.inboxes import email_inbox, mail
from tests.mail_servers import ImapAccount, expect_ok

pytestmark = pytest.mark.mail

# The real IMAP server's fixtures (tests/delivery/conftest.py does not load them).
imap_server = mail_servers.imap_server
imap_mailbox = mail_servers.imap_mailbox


def url_of(account: ImapAccount) -> str:
    scheme = "imaps" if account.tls else "imap"
    who = f"{quote(account.user, safe='')}:{quote(account.password, safe='')}"
    return f"{scheme}://{who}@{account.host}:{account.port}/{quote(account.folder)}"


@pytest.fixture
def mailbox_app(app, imap_mailbox):
    app.config["MAIL_TLS_CAFILE"] = imap_mailbox.cafile  # dovecot offers STARTTLS
    app.config["IMAP_POLL_INTERVAL"] = 0  # every call of poll_due polls
    app.config["MAIL_TIMEOUT"] = 10
    return app


@pytest.fixture
def inbox(mailbox_app, imap_mailbox) -> Inbox:
    return email_inbox(imap_url=url_of(imap_mailbox))


def append(account: ImapAccount, *raws: bytes) -> None:
    with account.connect() as imap:
        for raw in raws:
            expect_ok(imap.append(account.folder, None, None, raw))


def flags(account: ImapAccount) -> dict[int, bool]:
    """UID → whether the message is \\Seen."""
    with account.connect() as imap:
        expect_ok(imap.select(account.folder, readonly=True))
        data = expect_ok(imap.uid("FETCH", "1:*", "(FLAGS)"))
    seen = {}
    for line in data:
        if isinstance(line, bytes) and b"UID" in line:
            uid = int(line.split(b"UID ")[1].split()[0].rstrip(b")"))
            seen[uid] = b"\\Seen" in line
    return seen


def numbered(n: int, **kwargs) -> bytes:
    return mail(f"Message number {n}", message_id=f"<n{n}@example.com>", **kwargs)


def stored(inbox_id: int) -> list[str]:
    db.session.rollback()
    return list(
        db.session.execute(
            select(Message.source_id).where(Message.inbox_id == inbox_id).order_by(Message.id)
        ).scalars()
    )


def state(inbox_id: int) -> Inbox:
    db.session.rollback()
    return db.session.get(Inbox, inbox_id)


def test_polls_take_each_message_once_in_order_and_mark_it_seen(mailbox_app, inbox, imap_mailbox):
    append(imap_mailbox, numbered(1), numbered(2), numbered(3))
    assert mailboxes.poll_due(mailbox_app, "w1") == 3
    assert stored(inbox.id) == ["<n1@example.com>", "<n2@example.com>", "<n3@example.com>"]
    assert flags(imap_mailbox) == {1: True, 2: True, 3: True}
    after = state(inbox.id)
    assert after.imap_last_uid == 3 and after.imap_uidvalidity
    assert after.imap_error is None and after.imap_checked_at is not None
    assert after.imap_claimed_by is None  # the lease was given back
    # Nothing new: nothing taken (the server answers "4:*" with UID 3; it is filtered).
    assert mailboxes.poll_due(mailbox_app, "w1") == 0
    append(imap_mailbox, numbered(4))
    assert mailboxes.poll_due(mailbox_app, "w1") == 1
    assert len(stored(inbox.id)) == 4


def test_a_backlog_is_taken_in_batches_within_one_poll(
    mailbox_app, inbox, imap_mailbox, monkeypatch
):
    monkeypatch.setattr(imap_poll, "BATCH", 2)
    append(imap_mailbox, *(numbered(n) for n in range(5)))
    assert mailboxes.poll_due(mailbox_app, "w1") == 5
    assert len(stored(inbox.id)) == 5 and state(inbox.id).imap_last_uid == 5


def test_a_uidvalidity_change_reads_the_folder_again_and_dedupe_stores_nothing_twice(
    mailbox_app, inbox, imap_mailbox
):
    append(imap_mailbox, numbered(1), numbered(2))
    assert mailboxes.poll_due(mailbox_app, "w1") == 2
    old_validity = state(inbox.id).imap_uidvalidity
    with imap_mailbox.connect() as imap:  # the folder recreated: new UIDVALIDITY, UIDs from 1
        expect_ok(imap.delete(imap_mailbox.folder))
        expect_ok(imap.create(imap_mailbox.folder))
    append(imap_mailbox, numbered(1), numbered(2), numbered(3))
    assert mailboxes.poll_due(mailbox_app, "w1") == 3  # all read again…
    assert stored(inbox.id) == [f"<n{n}@example.com>" for n in (1, 2, 3)]  # …stored once
    after = state(inbox.id)
    assert after.imap_uidvalidity != old_validity and after.imap_last_uid == 3


def test_an_unreadable_message_is_skipped_unread_and_the_next_one_taken(
    mailbox_app, inbox, imap_mailbox
):
    append(imap_mailbox, b"\r\n\r\nno header at all\r\n", numbered(2))
    report = mailboxes.poll_now(inbox.id, "cli")
    assert [summary.split(":")[0] for _, summary in report.taken] == [
        "skipped, unreadable",
        "stored",
    ]
    assert stored(inbox.id) == ["<n2@example.com>"]
    assert flags(imap_mailbox) == {1: False, 2: True}  # left for a person to look at
    assert state(inbox.id).imap_last_uid == 2


def test_a_server_that_is_down_is_recorded_and_the_worker_goes_on(mailbox_app, imap_mailbox):
    down = ImapAccount("127.0.0.1", 1, "support", "secret", "INBOX")
    broken = email_inbox(imap_url=url_of(down))
    assert mailboxes.poll_due(mailbox_app, "w1") == 0
    after = state(broken.id)
    assert "refused" in after.imap_error and after.imap_checked_at is not None
    assert after.imap_claimed_by is None
    assert "secret" not in after.imap_error  # the password is never recorded
    # The worker loop polls between delivery batches and survives it.
    assert Worker(mailbox_app).run(once=True) == 0
    assert "refused" in state(broken.id).imap_error


def test_a_wrong_password_is_recorded(mailbox_app, imap_mailbox):
    wrong = email_inbox(imap_url=url_of(ImapAccount(**{**imap_mailbox.__dict__, "password": "x"})))
    mailboxes.poll_due(mailbox_app, "w1")
    assert state(wrong.id).imap_error


def test_two_pollers_at_once_take_each_message_once(mailbox_app, inbox, imap_mailbox):
    append(imap_mailbox, *(numbered(n) for n in range(12)))
    errors = []

    def run(name: str) -> None:
        try:
            for _ in range(3):
                mailboxes.poll_due(mailbox_app, name)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"poller-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    ids = stored(inbox.id)
    assert sorted(ids) == sorted(f"<n{n}@example.com>" for n in range(12))
    count = db.session.execute(select(func.count()).select_from(Message)).scalar_one()
    assert count == 12


def test_a_leased_mailbox_is_not_polled_by_another_worker(mailbox_app, inbox, imap_mailbox):
    from deskwoot.services.delivery import mailbox_polls

    append(imap_mailbox, numbered(1))
    assert mailbox_polls.claim(inbox.id, "someone-else", lease=300)
    assert mailboxes.poll_due(mailbox_app, "w1") == 0
    assert mailboxes.poll_now(inbox.id, "cli") is None
    assert stored(inbox.id) == []


def test_the_poll_command_says_what_it_took(runner, mailbox_app, inbox, imap_mailbox):
    append(imap_mailbox, numbered(1), numbered(2, subject="Re: Order [#1]"))
    result = runner.invoke(args=["email", "poll", "acme", "Support"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("UID 1: stored: conversation #1")
    assert lines[1].startswith("UID 2: stored: conversation #1")  # the marker, same contact
    assert lines[-1] == "Took 2 messages from 'Support'."


def test_the_poll_command_reports_an_unreachable_server(runner, mailbox_app):
    email_inbox(imap_url="imap://u:p@127.0.0.1:1/INBOX")
    result = runner.invoke(args=["email", "poll", "acme", "Support"])
    assert result.exit_code == 1
    assert "Took 0 messages" in result.stdout and "refused" in result.stderr
