"""The stress harness's checks catch what they claim to catch: fed rows with a duplicate, a
lost write, a doubled audit entry or a feed gap, they fail (and pass on clean rows)."""

from __future__ import annotations

from types import SimpleNamespace as Row

from stress import verify
from stress.clients import Write
from stress.verify import Stored

TOKEN = 7
INBOX = 3


def message(id_, body, kind="outgoing", source_id=None):
    return Row(
        id=id_, kind=kind, body=body, source_id=source_id, inbox_id=INBOX, token_id=TOKEN,
        conversation_id=1,
    )  # fmt: skip


def event(id_, type_="message.created", **data):
    return Row(id=id_, type=type_, data=data, actor_type="bot")


def audit(request_id, outcome="ok", action="reply_to_conversation"):
    return Row(request_id=request_id, action=action, outcome=outcome)


def stored(messages, events, audits, keys, drafts=()):
    return Stored(list(messages), list(drafts), list(events), list(audits), keys, "ok", 0)


def reply(key, acked_id, request_ids):
    return Write(
        kind="reply",
        key=key,
        body=f"[stress reply {key}] hi",
        conversation=1,
        request_ids=list(request_ids),
        acked_id=acked_id,
        ack_request_id=request_ids[-1],
    )


def clean_world():
    """One reply retried after a crash: its first try committed, the retry replayed it."""
    write = reply("k1", 10, ["r1", "r2"])
    rows = stored(
        [message(10, write.body)],
        [event(100, message_id=10)],
        [audit("r1", "ok"), audit("r2", "replayed")],
        {"k1": {"message": {"id": 10}}},
    )
    return write, rows


def names_of_failures(checks):
    return {c.name for c in checks if not c.ok}


def test_a_committed_write_replayed_after_a_crash_passes_every_check():
    write, rows = clean_world()
    checks, figures = verify._writes([write], rows)
    assert names_of_failures(checks) == {"no write kind left unexercised"}  # only replies here
    assert figures["reply"]["verified"] == 1
    assert figures["reply"]["replayed"] == 1
    assert figures["reply"]["retried"] == 1
    assert not names_of_failures(verify._globals(rows))


def test_a_retry_that_wrote_a_second_message_is_a_duplicate():
    write, rows = clean_world()
    rows.messages.append(message(11, write.body))
    rows.events.append(event(101, message_id=11))
    checks, figures = verify._writes([write], rows)
    assert "no write stored twice (retries with the same key/source_id)" in names_of_failures(
        checks
    )
    assert figures["reply"]["duplicates"] == 1
    assert "no body stored twice anywhere in the workspace" in names_of_failures(
        verify._globals(rows)
    )


def test_an_acknowledged_write_missing_from_the_database_is_caught():
    write, rows = clean_world()
    rows.messages.clear()
    checks, figures = verify._writes([write], rows)
    assert (
        "every acknowledged write stored exactly once (id, key/source_id, body)"
        in names_of_failures(checks)
    )
    assert figures["reply"]["missing"] == 1


def test_two_ok_audit_entries_for_one_key_are_caught():
    write, rows = clean_world()
    rows.audit[1] = audit("r2", "ok")
    checks, _ = verify._writes([write], rows)
    assert "every acknowledged MCP write audited exactly once as ok" in names_of_failures(checks)
    assert "idempotency keys, effects and ok audit entries commit together" in names_of_failures(
        verify._globals(rows)
    )


def test_a_message_without_its_event_is_caught():
    _, rows = clean_world()
    rows.events.clear()
    assert (
        "every message and draft has exactly one created event (and no event is orphaned)"
        in names_of_failures(verify._globals(rows))
    )


def test_inbound_answered_as_duplicate_on_its_only_delivery_is_caught():
    body = "[stress inbound s1] hello"
    write = Write(
        kind="inbound", key="s1", body=body, inbox_id=INBOX, request_ids=["r1"], acked_id=5,
        ack_request_id="r1", ack_duplicate=True,
    )  # fmt: skip
    rows = stored([message(5, body, "incoming", source_id="s1")], [event(1, message_id=5)], [], {})
    checks, _ = verify._writes([write], rows)
    assert (
        "every acknowledged write stored exactly once (id, key/source_id, body)"
        in names_of_failures(checks)
    )


def poller(seen, types=None):
    return Row(name="poller0", seen=seen, types=types, pages=1)


def test_pollers_with_a_gap_a_repeat_or_disorder_fail_and_a_complete_one_passes():
    rows = stored([], [event(i) for i in (1, 2, 3, 4)], [], {})
    assert verify._pollers([poller([1, 2, 3, 4])], rows)[0][0].ok
    for seen in ([1, 2, 4], [1, 2, 2, 3, 4], [1, 3, 2, 4], [1, 2, 3, 4, 5]):
        assert not verify._pollers([poller(seen)], rows)[0][0].ok, seen
    filtered = stored([], [event(1), event(2, "draft.created"), event(3)], [], {})
    assert verify._pollers([poller([2], ["draft.created"])], filtered)[0][0].ok


def test_a_write_whose_event_names_the_wrong_actor_is_caught():
    write, rows = clean_world()
    rows.events[0] = Row(id=100, type="message.created", data={"message_id": 10}, actor_type="user")
    checks, _ = verify._writes([write], rows)
    assert "every acknowledged write has its created event, by the right actor" in (
        names_of_failures(checks)
    )
