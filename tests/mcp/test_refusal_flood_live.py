"""A locked-out token flooding a live multi-worker server: its refusals end up as a few
counted audit rows, and another workspace's agent keeps writing meanwhile (the Flask
test-client cases are in test_refusal_audit.py)."""

from __future__ import annotations

import json
import time

import anyio
import httpx2
from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import AuditEntry
from deskwoot.policy import system_actor
from deskwoot.services.directory import workspaces
from tests import factories as f
from tests.mcp.conftest import make_desk
from tests.mcp.helpers import fresh, raw_call, raw_headers, rpc_body, run, token_row

FLOOD, FLOODERS, NOTES = 500, 4, 20


def refusals(workspace_id: int, token_id: int) -> list[int]:
    """The counts on the token's refusal rows, read fresh."""
    fresh()
    return list(
        db.session.execute(
            select(AuditEntry.count).where(
                AuditEntry.workspace_id == workspace_id,
                AuditEntry.token_id == token_id,
                AuditEntry.action == "mcp.request",
            )
        ).scalars()
    )


def test_a_refusal_flood_is_counted_on_a_few_rows_and_real_writes_go_on(live):
    locked = make_desk()
    locked_token = locked.mint()
    workspaces.set_plan(system_actor(locked.workspace), "starter")
    working = make_desk()
    working_token = working.mint()
    conversation = f.make_conversation(working.inbox).display_id
    db.session.commit()

    async def ping(http) -> int:
        body = json.dumps(rpc_body("ping"))
        return (
            await http.post(live.url, content=body, headers=raw_headers(locked_token))
        ).status_code

    async def main():
        statuses: list[int] = []
        notes: list[tuple[int, bool, float]] = []

        async def flood(http, share: int) -> None:
            for _ in range(share):
                statuses.append(await ping(http))

        async def write(http) -> None:
            for n in range(NOTES):
                started = time.monotonic()
                response = await raw_call(
                    http,
                    live.url,
                    working_token,
                    "add_private_note",
                    {"conversation_id": conversation, "body": f"Still working {n}"},
                )
                failed = response.json()["result"]["isError"]
                notes.append((response.status_code, failed, time.monotonic() - started))

        async with httpx2.AsyncClient(timeout=60) as http, anyio.create_task_group() as tg:
            for _ in range(FLOODERS):
                tg.start_soon(flood, http, FLOOD // FLOODERS)
            tg.start_soon(write, http)
        return statuses, notes

    statuses, notes = run(main)
    assert statuses == [403] * FLOOD
    assert [(status, failed) for status, failed, _ in notes] == [(200, False)] * NOTES
    assert max(seconds for *_, seconds in notes) < 5, "real writes were held up by refusals"

    # A refusal that met a busy write queue is counted in its worker's memory and written
    # with that worker's next refusal: a few more pings, one at a time, bring every count
    # in (each worker takes some of them).
    token_id = token_row(locked.workspace.id, locked_token).id
    sent = FLOOD

    async def one_more():
        async with httpx2.AsyncClient(timeout=30) as http:
            assert await ping(http) == 403

    for _ in range(40):
        if sum(refusals(locked.workspace.id, token_id)) == sent:
            break
        run(one_more)
        sent += 1
    counts = refusals(locked.workspace.id, token_id)
    assert sum(counts) == sent
    assert len(counts) <= 4, counts  # per minute one row, two at most when workers race (PG)
