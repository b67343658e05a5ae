"""Issue 13 end to end, the agent's way: John's email arrives (IMAP poll or MTA pipe) → a
conversation → a bot replies through MCP (the official client over HTTP, a real token) → the
worker sends it over SMTP → exactly one mail, threaded under John's → John's answer to that
mail arrives the same way → it joins the conversation with only his new text, and
get_conversation shows the whole exchange with our reply "sent"."""

from __future__ import annotations

import pytest

from tests.e2e_email.desk import (
    ANSWER_TEXT,
    BOT,
    FIRST_ID,
    FIRST_TEXT,
    JOHN,
    SIGNATURE,
    SUBJECT,
    Desk,
    answer_to,
    first_mail,
)

pytestmark = pytest.mark.mail


@pytest.fixture(params=["imap", "pipe"])
def arrival(request) -> str:
    return request.param


@pytest.fixture
def desk(app, live_server, sink, arrival, request) -> Desk:
    mailbox = request.getfixturevalue("mailbox") if arrival == "imap" else None
    return Desk(app, live_server, sink, mailbox)


def test_an_agent_answers_an_email_and_the_customers_reply_threads_back(desk, arrival):
    # John writes in; the same mail again (the MTA retries, a copy in the mailbox) is taken
    # and stored once.
    stored = desk.arrive(arrival, first_mail())
    again = desk.arrive(arrival, first_mail())
    if arrival == "pipe":
        assert stored.startswith("stored: conversation #1")
        assert again.startswith("duplicate: conversation #1")
    [conversation] = desk.conversations()
    assert conversation.subject == SUBJECT
    assert conversation.contact.email == JOHN and conversation.contact.name == "John Smith"
    [incoming] = desk.thread(conversation)
    assert (incoming.kind, incoming.body) == ("incoming", FIRST_TEXT)
    assert incoming.mail["message_id"] == FIRST_ID
    number = conversation.display_id

    # The bot reads it and replies; the request does not wait for the mail to go.
    [seen, replied] = desk.agent(
        ("get_conversation", {"conversation_id": number}),
        (
            "reply_to_conversation",
            {
                "conversation_id": number,
                "body": "Sorry about that, John! A new kettle ships today.",
                "idempotency_key": "order-1234",
            },
        ),
    )
    assert [m["body"] for m in seen["messages"]] == [FIRST_TEXT]
    assert desk.sink.messages() == []

    # The worker sends it: one mail, from the bot at the inbox's address, threaded under John's.
    assert desk.work() == 1
    [ours] = desk.thread(conversation)[1:]
    assert ours.id == replied["message"]["id"]
    sent = desk.sent_one(ours, sender=BOT, in_reply_to=FIRST_ID)

    # John answers that mail from his client; it lands in the same conversation, stripped of
    # the quote and his signature (both kept in the full original for teammates).
    desk.arrive(arrival, answer_to(sent, "<m2@example.com>"))
    assert [c.id for c in desk.conversations()] == [conversation.id]
    *_, answer = desk.thread(conversation)
    assert (answer.kind, answer.body) == ("incoming", ANSWER_TEXT)
    assert answer.mail["in_reply_to"] == desk.message_id(ours)
    assert SIGNATURE.splitlines()[1] in answer.full_body
    assert "> Sorry about that, John! A new kettle ships today." in answer.full_body

    # The agent sees the exchange and that our reply went out.
    [after] = desk.agent(("get_conversation", {"conversation_id": number}))
    messages = [(m["author_role"], m["body"]) for m in after["messages"]]
    assert messages == [
        ("customer", FIRST_TEXT),
        ("bot", "Sorry about that, John! A new kettle ships today."),
        ("customer", ANSWER_TEXT),
    ]
    delivery = after["messages"][1]["delivery"]
    assert (delivery["status"], delivery["attempts"], delivery["last_error"]) == ("sent", 1, None)

    # Nothing more goes out, and nothing comes in twice.
    assert desk.work() == 0
    assert len(desk.sink.messages()) == 1
    assert len(desk.thread(conversation)) == 3
