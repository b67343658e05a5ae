"""The end-to-end email desk: Acme's email inbox on real mail servers, a teammate, an MCP bot
token, and the customer John, whose mail arrives through the IMAP mailbox (the worker polls
it) or the MTA pipe (`deskwoot email receive` in a subprocess), and who answers what the SMTP
sink received from us the way a mail client does (quoting us below "On … wrote:", signed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import select

from deskwoot.channels.email import identity
from deskwoot.delivery.worker import Worker
from deskwoot.extensions import db
from deskwoot.models import Conversation, Message
from deskwoot.policy import SCOPES
from deskwoot.services.access import mcp_switch, tokens
from deskwoot.services.directory import inboxes
from tests import factories as f
from tests.mail_servers import ImapAccount, ReceivedMail, SmtpSink, expect_ok
from tests.mcp.conftest import connect
from tests.mcp.helpers import fresh, ok, run

ADDRESS = "support@acme.test"
SMTP_LOGIN = ("support", "smtp p@ss")  # the sink wants AUTH (and offers STARTTLS)
INBOX = "Acme Support"
TEAMMATE = "Ada Lovelace"
BOT = "Order bot"  # the token's name: the From of the bot's mail
JOHN = "john@example.com"
SUBJECT = "Order 1234 never arrived"
FIRST_ID = "<m1@example.com>"
FIRST_TEXT = "Hello,\n\nI ordered a kettle two weeks ago (order 1234) and it never arrived."
ANSWER_TEXT = "Thanks, the parcel came today!"
SIGNATURE = "-- \nJohn Smith\nExample Corp | +1 555 0100"


def first_mail(message_id: str = FIRST_ID) -> bytes:
    """John writes in."""
    return _mail(SUBJECT, message_id, FIRST_TEXT)


def answer_to(ours: ReceivedMail, message_id: str) -> bytes:
    """John answers the mail the sink received from us, from his mail client: threaded to
    its Message-ID, his new text on top, his signature, then our text quoted."""
    mail = ours.parsed()
    body = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    quoted = "\n".join(f"> {line}" if line else ">" for line in body.rstrip("\n").splitlines())
    text = f"{ANSWER_TEXT}\n\n{SIGNATURE}\n\nOn {mail['Date']}, {mail['From']} wrote:\n{quoted}"
    return _mail(
        f"Re: {mail['Subject']}",
        message_id,
        text,
        in_reply_to=mail["Message-ID"],
        references=f"{mail['References'] or ''} {mail['Message-ID']}".strip(),
    )


def _mail(subject: str, message_id: str, text: str, **threading) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = f"John Smith <{JOHN}>"
    msg["To"] = f"{INBOX} <{ADDRESS}>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id
    if threading:
        msg["In-Reply-To"] = threading["in_reply_to"]
        msg["References"] = threading["references"]
    msg.set_content(text + "\n")
    return msg.as_bytes()


def imap_url(account: ImapAccount) -> str:
    scheme = "imaps" if account.tls else "imap"
    who = f"{quote(account.user, safe='')}:{quote(account.password, safe='')}"
    return f"{scheme}://{who}@{account.host}:{account.port}/{quote(account.folder)}"


class Desk:
    """Acme: a workspace with MCP on, its teammate Ada (an admin), the email inbox sending
    through `sink` (with AUTH) and, given a `mailbox`, polling it; `token` is a bot token
    named BOT with every scope."""

    def __init__(self, app, base_url: str, sink: SmtpSink, mailbox: ImapAccount | None = None):
        self.app = app
        self.base_url = base_url
        self.sink = sink
        self.mailbox = mailbox
        db.session.rollback()
        self.workspace = f.make_workspace(name="Acme")
        self.teammate = f.make_user(
            self.workspace, role="admin", name=TEAMMATE, email="ada@acme.test"
        )
        actor = f.actor_for(self.teammate, self.workspace)
        mcp_switch.set_enabled(actor, True)
        login = f"{quote(SMTP_LOGIN[0], safe='')}:{quote(SMTP_LOGIN[1], safe='')}"
        self.inbox, _ = inboxes.create_inbox(
            actor,
            INBOX,
            "email",
            email_address=ADDRESS,
            smtp_url=f"smtp://{login}@{sink.host}:{sink.port}",
            imap_url=imap_url(mailbox) if mailbox else None,
        )
        self.token = tokens.mint(actor, BOT, list(SCOPES)).plaintext
        self.slug = self.workspace.slug

    # -- the customer's side -----------------------------------------------------------------

    def arrive(self, how: str, raw: bytes) -> str | None:
        """A mail reaches Deskwoot: "imap" puts it in the mailbox and lets the worker poll,
        "pipe" hands it to `deskwoot email receive`, which must take it (its output line)."""
        if how == "imap":
            self.append(raw)
            self.work()
            return None
        piped = self.pipe(raw)
        assert piped.returncode == 0, piped.stderr
        return piped.stdout.decode().strip()

    def append(self, raw: bytes) -> None:
        """The customer's provider delivers `raw` to the mailbox."""
        assert self.mailbox is not None
        with self.mailbox.connect() as imap:
            expect_ok(imap.append(self.mailbox.folder, None, None, raw))

    def pipe(self, raw: bytes) -> subprocess.CompletedProcess:
        """`deskwoot email receive SLUG INBOX < raw`, as an MTA runs it."""
        fresh()  # on SQLite a read snapshot held here would block the CLI's write
        env = {
            **os.environ,
            "DATABASE_URL": self.app.config["SQLALCHEMY_DATABASE_URI"],
            "DESKWOOT_SECRET_KEY": self.app.config["SECRET_KEY"],
        }
        env.pop("DESKWOOT_TEST_DATABASE_URL", None)
        return subprocess.run(
            [str(Path(sys.executable).with_name("deskwoot")), "email", "receive", self.slug, INBOX],
            input=raw,
            env=env,
            capture_output=True,
            timeout=60,
        )

    # -- Deskwoot's side ---------------------------------------------------------------------

    def work(self) -> int:
        """One `deskwoot worker --once` pass on the live server's database: deliver what is
        due, poll the mailbox. How many outbox rows it handled."""
        fresh()
        return Worker(self.app).run(once=True)

    def agent(self, *calls: tuple[str, dict]) -> list[dict]:
        """The bot: the official MCP client over HTTP with the bot token; each call must
        succeed; their structuredContent."""

        async def main() -> list[dict]:
            async with connect(f"{self.base_url}/api/mcp", self.token) as client:
                return [await ok(client, name, arguments) for name, arguments in calls]

        return run(main)

    def conversations(self) -> list[Conversation]:
        fresh()
        return list(
            db.session.execute(
                select(Conversation)
                .where(Conversation.workspace_id == self.workspace.id)
                .order_by(Conversation.id)
            ).scalars()
        )

    def thread(self, conversation: Conversation) -> list[Message]:
        """The conversation's customer and outgoing messages, oldest first."""
        fresh()
        return list(
            db.session.execute(
                select(Message)
                .where(
                    Message.conversation_id == conversation.id,
                    Message.kind.in_(("incoming", "outgoing")),
                )
                .order_by(Message.id)
            ).scalars()
        )

    def message_id(self, message: Message) -> str:
        return identity.message_id_for(message.id, self.inbox.uid, "acme.test")

    def sent_one(self, message: Message, *, sender: str, in_reply_to: str) -> ReceivedMail:
        """The sink holds exactly one message, `message` as the customer gets it: from
        `sender` at the inbox's address, to John, threaded under `in_reply_to`."""
        [received] = self.sink.wait_for(1)
        assert len(self.sink.messages()) == 1
        mail = received.parsed()
        assert received.login == SMTP_LOGIN[0]
        assert (received.mail_from, received.rcpt_tos) == (ADDRESS, (JOHN,))
        assert getaddresses([mail["From"]]) == [(sender, ADDRESS)]
        assert getaddresses([mail["To"]]) == [("John Smith", JOHN)]
        number = self.conversations()[0].display_id
        assert mail["Subject"] == f"Re: {SUBJECT} [#{number}]"
        assert mail["Message-ID"] == self.message_id(message)
        assert mail["In-Reply-To"] == in_reply_to
        assert in_reply_to in mail["References"].split()
        return received
