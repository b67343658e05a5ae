"""The stress harness's receivers and worker pool do what the delivery checks rely on: the SMTP
sink records Message-IDs and defers with 451, the webhook receiver records only correctly
signed deliveries, an armed receiver names the sending process's port, and the pool finds
which of its processes holds a connection, kills it and starts another."""

from __future__ import annotations

import smtplib
import socket
import sys
from datetime import UTC, datetime
from email.message import EmailMessage

import httpx2
import pytest
from standardwebhooks import Webhook

from stress.mail_sink import MailSink
from stress.webhook_sink import WebhookSink
from stress.workers import WorkerPool, wait_until

pytestmark = pytest.mark.mail
SECRET = "whsec_" + "c3RyZXNzLXJlY2VpdmVyLXRlc3Qtc2VjcmV0"


def mail(message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "billing@stress.deskwoot.test"
    message["To"] = "customer@stress.deskwoot.test"
    message["Subject"] = "Re: parcel"
    message["Message-ID"] = message_id
    message.set_content("Your parcel is on its way.")
    return message


def test_the_mail_sink_records_message_ids_defers_and_fires_its_trigger():
    sink = MailSink(refuse_rate=0.0, seed=1).start()
    try:
        fired = []
        sink.recorder.arm(fired.append)
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
            local_port = smtp.sock.getsockname()[1]
            smtp.send_message(mail("<deskwoot.m1.uid@stress.deskwoot.test>"))
            smtp.send_message(mail("<deskwoot.m1.uid@stress.deskwoot.test>"))
        assert fired == [local_port]  # once, with the sender's port
        assert sink.recorder.counts() == {"<deskwoot.m1.uid@stress.deskwoot.test>": 2}
        first, second = sink.recorder.copies()
        assert first.digest == second.digest

        sink.recorder.refuse_rate = 1.0
        with (
            smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp,
            pytest.raises(smtplib.SMTPDataError) as refused,
        ):
            smtp.send_message(mail("<deskwoot.m2.uid@stress.deskwoot.test>"))
        assert refused.value.smtp_code == 451
        assert sink.recorder.refused == 1
        assert len(sink.recorder.copies()) == 2
    finally:
        sink.stop()


def signed(webhook_id: str, body: str, secret: str = SECRET) -> dict:
    now = datetime.now(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
    }


def test_the_webhook_sink_records_signed_deliveries_only():
    sink = WebhookSink(refuse_rate=0.0, seed=1).start()
    try:
        sink.verify_with(SECRET)
        body = '{"type":"message.outgoing","timestamp":"x","data":{"message_id":5}}'
        good = httpx2.post(sink.url, content=body, headers=signed("msg_5", body))
        forged = httpx2.post(
            sink.url, content=body, headers=signed("msg_6", body, "whsec_" + "b3RoZXI=")
        )
        assert (good.status_code, forged.status_code) == (200, 400)
        assert sink.recorder.counts() == {"msg_5": 1}
        assert len(sink.recorder.rejected) == 1

        sink.recorder.refuse_rate = 1.0
        again = httpx2.post(sink.url, content=body, headers=signed("msg_5", body))
        assert again.status_code == 500
        assert sink.recorder.counts() == {"msg_5": 1}
    finally:
        sink.stop()


CONNECTOR = """
import socket, sys, time
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print(sock.getsockname()[1], flush=True)
time.sleep(60)
"""


def test_the_pool_finds_the_process_behind_a_connection_kills_it_and_revives_the_slot(
    tmp_path,
):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    log = tmp_path / "workers.log"
    pool = WorkerPool({}, 2, log, argv=(sys.executable, "-c", CONNECTOR, str(port)))
    try:
        pool.start()
        assert wait_until(lambda: len(log.read_text().split()) == 2, timeout=20) is not None
        ports = [int(p) for p in log.read_text().split()]
        owners = {pool.owner_of(p, port) for p in ports}
        assert owners == set(pool.pids())  # each connection named its own process
        victim = pool.owner_of(ports[0], port)
        slot = pool.kill(victim)
        assert slot is not None and victim not in pool.pids()
        assert pool.kill(victim) is None  # already gone: nothing else is killed
        assert pool.owner_of(ports[0], port) is None
        assert pool.revive() == 1 and len(pool.pids()) == 2 and pool.started == 3
    finally:
        stopped = pool.stop(wait_started=False)  # the stand-ins never say "started"
        listener.close()
    assert len(stopped) == 2
