"""The stress harness's delivery checks catch what they claim to catch: fed receivers that
lost a reply, got a stranger's Message-ID or two different messages under one id, and an
outbox with a row left pending, they fail (and pass on a clean run, duplicates included)."""

from __future__ import annotations

import time
from types import SimpleNamespace as Row

from deskwoot.channels.email.identity import message_id_for
from stress.clients import Ledger, Write
from stress.sink_records import Recorder
from stress.verify_delivery import DeliveryRun, evaluate
from stress.worker_chaos import WorkerKill
from stress.world import EMAIL_ADDRESS, InboxAccess, World

SUPPORT = InboxAccess(1, "supportuid", "s", "Support", "api")
BILLING = InboxAccess(2, "billinguid", "s", "Billing", "email")
SALES = InboxAccess(3, "salesuid", "s", "Sales", "web")
WORLD = World(
    workspace_id=1,
    token="t",
    token_id=1,
    inboxes=(SUPPORT, BILLING, SALES),
    conversations=(1,),
    contact_emails=(),
    webhook_secret="whsec_x",
)
EMAIL_MSG, API_MSG, WEB_MSG = 10, 11, 12


def mail_id(message_id: int) -> str:
    return message_id_for(message_id, BILLING.uid, EMAIL_ADDRESS.rpartition("@")[2])


def ledger() -> Ledger:
    book = Ledger((1,))
    for n, acked in enumerate((EMAIL_MSG, API_MSG, WEB_MSG)):
        book.add_write(Write(kind="reply", key=f"k{n}", body=f"b{n}", acked_id=acked))
    return book


def rows(email_status="sent", api_status="sent"):
    outbox = [
        Row(message_id=EMAIL_MSG, channel="email", status=email_status, attempts=2,
            delivery_id=f"msg_{EMAIL_MSG}"),
        Row(message_id=API_MSG, channel="api", status=api_status, attempts=1,
            delivery_id=f"msg_{API_MSG}"),
        Row(message_id=WEB_MSG, channel="web", status="pending", attempts=0,
            delivery_id=f"msg_{WEB_MSG}"),
    ]  # fmt: skip
    outgoing = [
        Row(id=EMAIL_MSG, inbox_id=BILLING.id),
        Row(id=API_MSG, inbox_id=SUPPORT.id),
        Row(id=WEB_MSG, inbox_id=SALES.id),
    ]
    fates = [
        Row(type="message.delivered", data={"message_id": m})
        for m, status in ((EMAIL_MSG, email_status), (API_MSG, api_status))
        if status == "sent"
    ]
    return outbox, outgoing, fates


def receivers():
    mail, webhooks = Recorder(0.0, 1), Recorder(0.0, 2)
    mail.accept(mail_id(EMAIL_MSG), "d1", 5000)
    webhooks.accept(f"msg_{API_MSG}", "d2", 5001)
    return mail, webhooks


def run_of(mail, webhooks, **overrides):
    fields = dict(
        mail=mail,
        webhooks=webhooks,
        kills=[WorkerKill(1.0, "smtp accepted", 42, True, 0.3)],
        kills_wanted=1,
        chaos_failure=None,
        workers_started=3,
        drain_s=1.5,
        drain_timeout=60,
        worker_log="Delivery worker x started.\n",
        stop_codes=[0, 0],
    )
    return DeliveryRun(**{**fields, **overrides})


def failures(checks):
    return {c.name for c in checks if not c.ok}


def test_a_clean_run_passes_and_an_identical_resend_counts_as_a_raw_duplicate():
    mail, webhooks = Recorder(0.0, 1), Recorder(0.0, 2)
    mail.identify = webhooks.identify = {5000: 42, 5001: 43, 5002: 44, 5003: 44}.get
    mail.accept(mail_id(EMAIL_MSG), "d1", 5000)
    killed = WorkerKill(1.0, "smtp accepted", 42, True, 0.3, killed_at=time.monotonic())
    mail.accept(mail_id(EMAIL_MSG), "d1", 5002)  # resent after the kill: the same message
    webhooks.accept(f"msg_{API_MSG}", "d2", 5001)
    webhooks.accept(f"msg_{API_MSG}", "d2", 5003)  # its first sender lived on
    checks, figures = evaluate(*rows(), WORLD, ledger(), run_of(mail, webhooks, kills=[killed]))
    assert failures(checks) == set()
    assert figures["email"]["duplicate_copies"] == 1
    assert figures["email"]["duplicates_after_kill"] == 1
    assert figures["api"]["duplicates_live_sender"] == 1
    assert figures["email"]["received"] == figures["email"]["committed"] == 1
    assert figures["retries_recorded"] == 1
    assert figures["outbox"]["web"] == {"pending": 1}


def test_a_lost_reply_fails():
    mail, webhooks = Recorder(0.0, 1), receivers()[1]
    checks, figures = evaluate(*rows(), WORLD, ledger(), run_of(mail, webhooks))
    assert "every acknowledged email reply reached the SMTP sink, by Message-ID (none lost)" in (
        failures(checks)
    )
    assert figures["email"]["lost"] == 1


def test_a_message_id_that_is_no_committed_reply_fails():
    mail, webhooks = receivers()
    mail.accept(mail_id(99), "d9", 5003)
    webhooks.accept("msg_98", "d8", 5004)
    checks, _ = evaluate(*rows(), WORLD, ledger(), run_of(mail, webhooks))
    assert {"the SMTP sink got only committed replies",
            "the webhook receiver got only committed replies"} <= failures(checks)  # fmt: skip


def test_a_different_message_under_the_same_id_fails():
    mail, webhooks = receivers()
    mail.accept(mail_id(EMAIL_MSG), "another text", 5002)
    checks, figures = evaluate(*rows(), WORLD, ledger(), run_of(mail, webhooks))
    assert figures["email"]["differing"] == 1
    assert any("email reply delivered exactly once" in name for name in failures(checks))


def test_a_pending_or_failed_row_fails_but_web_replies_may_wait():
    mail, webhooks = receivers()
    checks, _ = evaluate(
        *rows(email_status="pending", api_status="failed"), WORLD, ledger(),
        run_of(mail, webhooks, drain_s=None),
    )  # fmt: skip
    assert {
        "every email/api outbox row sent (none failed or pending)",
        "the workers drained the outbox after the load",
    } <= failures(checks)


def test_a_second_delivered_event_fails():
    mail, webhooks = receivers()
    outbox, outgoing, fates = rows()
    fates.append(Row(type="message.delivered", data={"message_id": EMAIL_MSG}))
    checks, _ = evaluate(outbox, outgoing, fates, WORLD, ledger(), run_of(mail, webhooks))
    assert failures(checks) == {
        "every sent row has exactly one message.delivered event, none message.failed"
    }


def test_worker_trouble_fails():
    mail, webhooks = receivers()
    checks, _ = evaluate(
        *rows(), WORLD, ledger(),
        run_of(mail, webhooks, worker_log="Traceback (most recent call last):\n",
               stop_codes=[0, -9], kills_wanted=2),
    )  # fmt: skip
    assert failures(checks) == {
        "no traceback in the worker logs",
        "the workers stopped cleanly on SIGTERM",
        "every worker kill -9 injected, a new worker started after each",
    }
