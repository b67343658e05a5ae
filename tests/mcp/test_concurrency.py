"""Concurrency and the gate against the live multi-worker gunicorn (ARCHITECTURE §3, §6).

Idempotent replies under a burst of duplicates, revocation and plan changes that apply on the
very next request on every worker, and an events feed that neither skips nor repeats while
several writers commit at once.
"""

from __future__ import annotations

import itertools
import json
import time
from datetime import timedelta

import anyio
import httpx2
import pytest
from mcp import MCPError
from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import (
    AuditEntry,
    Contact,
    Conversation,
    Event,
    Message,
    Outbox,
    utcnow,
)
from deskwoot.policy import system_actor
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens
from deskwoot.services.directory import workspaces
from tests import factories as f
from tests.mcp.conftest import MODES, connect, make_desk
from tests.mcp.helpers import (
    CHALLENGE,
    audit_outcomes,
    count,
    fresh,
    mcp_error_in,
    ok,
    raw_call,
    run,
    token_row,
    tool_error,
)

pytestmark = pytest.mark.usefixtures("fresh_session")


async def official_error(url: str, token: str, mode: str, tool: str, args: dict) -> MCPError:
    """Connect and call with the official client, which must fail with an MCP error (raised
    directly on a call, or inside an ExceptionGroup when the handshake itself is refused)."""
    try:
        async with connect(url, token, mode) as client:
            await client.call_tool(tool, args)
    except MCPError as exc:
        return exc
    except BaseException as exc:  # an ExceptionGroup from __aenter__
        return mcp_error_in(exc)
    raise AssertionError(f"{tool} was not refused in {mode} mode")


# --- 1. one idempotency key, twenty callers --------------------------------------------------


def test_twenty_simultaneous_replies_with_one_key_make_one_message(live, artifacts):
    desk = make_desk()
    conv = f.make_conversation(desk.inbox)
    token = desk.mint()
    args = {
        "conversation_id": conv.display_id,
        "body": "Exactly once, please.",
        "idempotency_key": "burst-1",
    }
    callers = 20
    results: dict[int, dict] = {}
    timing: dict[str, float] = {}

    async def official(n: int, mode: str, go: anyio.Event, ready) -> None:
        async with connect(live.url, token, mode) as client:
            await client.list_tools()  # the client validates results against outputSchema
            ready()
            await go.wait()
            result = await client.call_tool("reply_to_conversation", args)
            assert not result.is_error, result.structured_content
            results[n] = result.structured_content

    async def raw(n: int, go: anyio.Event, ready) -> None:
        async with httpx2.AsyncClient(timeout=60) as http:
            ready()
            await go.wait()
            response = await raw_call(http, live.url, token, "reply_to_conversation", args)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["result"]["isError"] is False, body
            results[n] = body["result"]["structuredContent"]

    async def main():
        go = anyio.Event()
        waiting = anyio.Semaphore(0)
        async with anyio.create_task_group() as tg:
            for n in range(callers):
                if n % 2:
                    tg.start_soon(raw, n, go, waiting.release)
                else:
                    tg.start_soon(official, n, MODES[(n // 2) % 2], go, waiting.release)
            for _ in range(callers):
                await waiting.acquire()
            started = time.perf_counter()
            go.set()
        timing["burst"] = time.perf_counter() - started

    run(main)
    assert len(results) == callers
    message_ids = {r["message"]["id"] for r in results.values()}
    assert len(message_ids) == 1
    fresh()
    rows = (
        db.session.execute(
            select(Message).where(Message.conversation_id == conv.id, Message.kind == "outgoing")
        )
        .scalars()
        .all()
    )
    assert [r.id for r in rows] == list(message_ids)
    assert count(Outbox, Outbox.workspace_id == desk.workspace.id) == 1
    token_id = token_row(desk.workspace.id, token).id
    outcomes = audit_outcomes(desk.workspace.id, "reply_to_conversation", token_id)
    assert sorted(outcomes) == ["ok"] + ["replayed"] * (callers - 1)
    line = (
        f"20 concurrent reply_to_conversation calls, one idempotency key "
        f"({live.database_url.split(':')[0]}): {timing['burst'] * 1000:.0f} ms "
        f"from release to the last answer\n"
    )
    print(line)
    with (artifacts / "mcp-concurrency-timing.txt").open("a") as out:
        out.write(line)


# --- 2. revocation on every worker ----------------------------------------------------------


async def _burst(url: str, token: str, calls: int) -> list[httpx2.Response]:
    """`calls` simultaneous whoami POSTs, each on its own connection (both workers serve)."""
    responses: list[httpx2.Response] = []

    async def one():
        async with httpx2.AsyncClient(timeout=30) as http:
            responses.append(await raw_call(http, url, token, "whoami", {}))

    async with anyio.create_task_group() as tg:
        for _ in range(calls):
            tg.start_soon(one)
    return responses


def test_revocation_applies_to_the_next_request_on_every_worker(live):
    desk = make_desk()
    token = desk.mint()
    before = run(_burst, live.url, token, 10)
    assert [r.status_code for r in before] == [200] * 10
    row = token_row(desk.workspace.id, token)
    tokens.revoke(desk.admin_actor, row.id)

    after = run(_burst, live.url, token, 10)
    for response in after:
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == CHALLENGE
        assert response.headers["Content-Type"].startswith("application/json")
        body = response.json()
        assert body["jsonrpc"] == "2.0" and body["id"] is None
        assert body["error"]["code"] == -32010
        text = json.dumps(body)
        assert desk.workspace.slug not in text and desk.workspace.name not in text
    for mode in MODES:
        error = run(official_error, live.url, token, mode, "whoami", {})
        assert error.code == -32010
    fresh()
    assert audit_outcomes(desk.workspace.id, "mcp.token_revoked") == ["ok"]
    assert audit_outcomes(desk.workspace.id, "whoami", row.id) == ["ok"] * 10


# --- 3. trial end, downgrade, MCP switched off ----------------------------------------------


def test_trial_end_downgrade_and_disable_lock_the_next_call(live):
    desk = make_desk()
    conv = f.make_conversation(desk.inbox)
    token = desk.mint()
    operator = system_actor(desk.workspace)
    keys = (f"key-{n}" for n in itertools.count())

    def reply() -> httpx2.Response:
        args = {"conversation_id": conv.display_id, "body": "Hello", "idempotency_key": next(keys)}
        return run(_reply, live.url, token, args)

    def outgoing() -> int:
        fresh()
        return count(Message, Message.conversation_id == conv.id, Message.kind == "outgoing")

    def refused(reason: str, code: int) -> None:
        before = outgoing()
        response = reply()
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert error["code"] == code
        assert error["data"] == {"reason": reason}
        assert error["message"]
        for mode in MODES:
            official = run(
                official_error,
                live.url,
                token,
                mode,
                "reply_to_conversation",
                {
                    "conversation_id": conv.display_id,
                    "body": "Hello",
                    "idempotency_key": next(keys),
                },
            )
            assert official.code == code and official.data == {"reason": reason}
        assert outgoing() == before

    assert reply().status_code == 200
    assert outgoing() == 1

    workspaces.set_trial_end(operator, utcnow() - timedelta(seconds=1))
    refused("trial_expired", -32011)
    workspaces.set_plan(operator, "business")
    refused("plan_required", -32011)
    workspaces.set_plan(operator, "starter")
    refused("plan_required", -32011)
    workspaces.set_plan(operator, "enterprise")
    response = reply()
    assert response.status_code == 200 and response.json()["result"]["isError"] is False
    assert outgoing() == 2
    mcp_settings.set_enabled(desk.admin_actor, False)
    refused("mcp_disabled", -32012)
    mcp_settings.set_enabled(desk.admin_actor, True)
    assert reply().status_code == 200
    assert outgoing() == 3

    fresh()
    token_id = token_row(desk.workspace.id, token).id
    denials = (
        db.session.execute(
            select(AuditEntry.detail)
            .where(
                AuditEntry.workspace_id == desk.workspace.id,
                AuditEntry.action == "mcp.request",
                AuditEntry.token_id == token_id,
            )
            .order_by(AuditEntry.id)
        )
        .scalars()
        .all()
    )
    # One raw call and one per era (legacy refused at initialize, 2026 at the call).
    assert set(denials) == {"trial_expired", "plan_required", "mcp_disabled"}
    assert audit_outcomes(desk.workspace.id, "reply_to_conversation", token_id) == ["ok"] * 3


async def _reply(url: str, token: str, args: dict) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=30) as http:
        return await raw_call(http, url, token, "reply_to_conversation", args)


# --- 4. concurrent writers and the events feed ----------------------------------------------


def test_events_feed_never_skips_or_repeats_under_concurrent_writers(live):
    desk = make_desk()
    conversations = [f.make_conversation(desk.inbox).display_id for _ in range(3)]
    token = desk.mint()
    writers, per_writer = 4, 8
    polled: list[int] = []
    stats = {"polls": 0}

    async def writer(n: int, mode: str) -> None:
        async with connect(live.url, token, mode) as client:
            for i in range(per_writer):
                cid = conversations[(n + i) % len(conversations)]
                if i % 3 == 0:
                    await ok(
                        client,
                        "reply_to_conversation",
                        {
                            "conversation_id": cid,
                            "body": f"reply {n}.{i}",
                            "idempotency_key": f"w{n}-{i}",
                        },
                    )
                elif i % 3 == 1:
                    await ok(
                        client,
                        "add_private_note",
                        {"conversation_id": cid, "body": f"note {n}.{i}"},
                    )
                else:
                    await ok(client, "create_contact", {"name": f"Contact {n}.{i}"})

    async def poller(cursor: str, done: anyio.Event) -> None:
        async with connect(live.url, token, "legacy") as client:
            while True:
                finished = done.is_set()  # read before polling: this poll sees every write
                page = await ok(client, "poll_events", {"cursor": cursor, "limit": 5})
                stats["polls"] += 1
                polled.extend(e["id"] for e in page["events"])
                cursor = page["next_cursor"]
                if finished and not page["has_more"]:
                    return
                if not page["has_more"]:
                    await anyio.sleep(0.01)

    async def main():
        async with connect(live.url, token, "2026-07-28") as client:
            first = await ok(client, "poll_events", {"limit": 100})
        assert first["has_more"] is False
        polled.extend(e["id"] for e in first["events"])
        done = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(poller, first["next_cursor"], done)
            async with anyio.create_task_group() as writing:
                for n in range(writers):
                    writing.start_soon(writer, n, MODES[n % 2])
            done.set()

    run(main)
    fresh()
    in_db = list(
        db.session.execute(
            select(Event.id).where(Event.workspace_id == desk.workspace.id).order_by(Event.id)
        ).scalars()
    )
    assert len(polled) == len(set(polled)), "an event was delivered twice"
    assert polled == in_db, "the feed skipped events or delivered them out of order"
    # 3 conversations x 2 setup events, then per writer: replies and notes (one event each)
    # and contacts (one event each).
    assert len(in_db) == 6 + writers * per_writer
    assert stats["polls"] > 2


# --- 5. racing creators of the same contact --------------------------------------------------


def test_racing_creators_of_one_contact_get_a_conflict_never_a_500(live):
    """Unique contact emails under concurrent writers: one wins, the rest get a clean answer.

    On PostgreSQL every racer passes the "already exists?" check before the winner commits;
    the losers then hit the unique index, which must become a business error (isError,
    code conflict), never an HTTP 500. Several rounds, since each is a race.
    """
    desk = make_desk()
    token = desk.mint()
    rounds, callers = 6, 6

    async def main():
        answers: dict[str, list[httpx2.Response]] = {}

        async def create(http, email: str, n: int) -> None:
            if n % 3 == 2:  # start_conversation finds or creates the contact by email
                tool, args = (
                    "start_conversation",
                    {
                        "inbox_id": desk.inbox.id,
                        "body": f"Hello {n}",
                        "contact": {"email": email},
                        "idempotency_key": f"{email}-{n}",
                    },
                )
            else:
                tool, args = "create_contact", {"name": f"Racer {n}", "email": email}
            answers[email].append(await raw_call(http, live.url, token, tool, args))

        limits = httpx2.Limits(max_connections=callers, max_keepalive_connections=0)
        async with httpx2.AsyncClient(timeout=60, limits=limits) as http:
            for r in range(rounds):
                email = f"racer{r}@example.test"
                answers[email] = []
                async with anyio.create_task_group() as tg:
                    for n in range(callers):
                        tg.start_soon(create, http, email, n)
        return answers

    answers = run(main)
    fresh()
    for email, responses in answers.items():
        assert len(responses) == callers
        for response in responses:
            assert response.status_code == 200, f"{email}: {response.status_code} {response.text}"
            assert response.headers["Content-Type"].startswith("application/json")
            result = response.json()["result"]
            if result["isError"]:
                assert tool_error(result)["code"] == "conflict", result
        created = [r.json()["result"] for r in responses]
        contacts = [
            c["structuredContent"]["contact"]
            for c in created
            if not c["isError"] and "contact" in c["structuredContent"]
        ]
        assert len(contacts) <= 1
        assert (
            count(Contact, Contact.workspace_id == desk.workspace.id, Contact.email == email) == 1
        )
    started = sum(
        1
        for responses in answers.values()
        for r in responses
        if "conversation" in r.json()["result"].get("structuredContent", {})
    )
    assert count(Conversation, Conversation.workspace_id == desk.workspace.id) == started
