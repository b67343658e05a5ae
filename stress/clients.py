"""The load: agents (threads) doing a mix of MCP reads and writes and inbound-hook posts, and
pollers following the events feed. Every acknowledged write goes into the ledger with its
key and every request id it was sent under, so the database can be checked afterwards.

A request that gets no answer (the server was killed, refused the connection or reset it)
is retried with the same payload — the same idempotency key or source_id, the same cursor —
until it is answered, exactly as a well-behaved client would.
"""

from __future__ import annotations

import itertools
import random
import secrets
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2

from stress.protocol import (
    LEGACY,
    MODERN,
    McpSession,
    RpcFailure,
    handshake_result,
    post_inbound,
    tool_result,
)
from stress.world import SEED_CONTACTS, WORDS, World, customer_email

READS = ("get_conversation", "list_conversations", "search_conversations")
WRITE_TOOLS = {
    "reply": "reply_to_conversation",
    "note": "add_private_note",
    "draft": "create_draft_reply",
}
WRITES = (*WRITE_TOOLS, "inbound")
KINDS = ("handshake", *READS, *WRITES, "poll")
# How often an agent picks each operation.
MIX = (
    ("get_conversation", 20),
    ("list_conversations", 10),
    ("search_conversations", 8),
    ("reply", 12),
    ("note", 10),
    ("draft", 8),
    ("inbound", 14),
)
NEW_CUSTOMERS = 40  # inbound also comes from customers the seed did not create
MAX_SAMPLES = 40


@dataclass
class KindStats:
    attempts: int = 0  # requests sent
    answered: int = 0  # requests that got an HTTP answer
    ok: int = 0  # operations that succeeded
    http_5xx: int = 0
    errors: int = 0  # answered, but not with a success
    interrupted: int = 0  # no answer (crash: refused, reset, timed out), then retried
    gave_up: int = 0
    latencies: list[float] = field(default_factory=list)  # of successful answers


@dataclass
class Write:
    kind: str  # reply | note | draft | inbound
    key: str  # idempotency key, or the inbound source_id
    body: str
    conversation: int | None = None  # display id
    inbox_id: int | None = None
    request_ids: list[str] = field(default_factory=list)  # every attempt's X-Request-Id
    acked_id: int | None = None  # message id (draft id for drafts) the server acknowledged
    ack_request_id: str | None = None
    ack_duplicate: bool = False  # inbound answered "duplicate": the lost first try had stored it


class Ledger:
    """What the clients saw, shared by every thread."""

    def __init__(self, conversations: tuple[int, ...]):
        self._lock = threading.Lock()
        self.stats = {kind: KindStats() for kind in KINDS}
        self.writes: list[Write] = []
        self.samples: list[str] = []  # the first failures, for the report
        self.locked_answers = 0  # answers that mention "database is locked"
        self.thread_failures: list[str] = []
        self._conversations = list(conversations)

    def count(self, kind: str, what: str) -> None:
        with self._lock:
            stats = self.stats[kind]
            setattr(stats, what, getattr(stats, what) + 1)

    def succeeded(self, kind: str, latency: float) -> None:
        with self._lock:
            self.stats[kind].ok += 1
            self.stats[kind].latencies.append(latency)

    def failed(self, kind: str, detail: str) -> None:
        with self._lock:
            self.stats[kind].errors += 1
            if "database is locked" in detail:
                self.locked_answers += 1
            if len(self.samples) < MAX_SAMPLES:
                self.samples.append(f"{kind}: {detail}")

    def sample(self, text: str) -> None:
        with self._lock:
            if "database is locked" in text:
                self.locked_answers += 1
            if len(self.samples) < MAX_SAMPLES:
                self.samples.append(text)

    def add_write(self, write: Write) -> None:
        with self._lock:
            self.writes.append(write)

    def learn_conversation(self, display_id: int) -> None:
        with self._lock:
            if display_id not in self._conversations:
                self._conversations.append(display_id)

    def pick_conversation(self, rng: random.Random) -> int:
        with self._lock:
            return rng.choice(self._conversations)


@dataclass
class Plan:
    """What every client needs to know."""

    base_url: str
    mcp_url: str
    world: World
    ledger: Ledger
    stop: threading.Event  # set when the load's time is up: finish the operation, then stop
    drain: threading.Event  # set when every agent has stopped: pollers read to the end
    request_timeout: float = 60
    give_up_after: float = 120  # seconds one operation may keep retrying


class Client(threading.Thread):
    def __init__(self, name: str, plan: Plan, seed: int, era: str):
        super().__init__(name=name, daemon=True)
        self.plan = plan
        self.ledger = plan.ledger
        self.rng = random.Random(seed)  # noqa: S311 - load shaping, not secrets
        self.era = era
        self._requests = itertools.count(1)

    def run(self) -> None:
        try:
            with httpx2.Client(timeout=self.plan.request_timeout) as http:
                self.http = http
                self.mcp = McpSession(http, self.plan.mcp_url, self.plan.world.token, self.era)
                self.handshake()
                self.work()
        except Exception:
            self.ledger.thread_failures.append(f"{self.name}: {traceback.format_exc()}")

    def work(self) -> None:
        raise NotImplementedError

    def request_id(self) -> str:
        return f"{self.name}-{next(self._requests)}-{secrets.token_hex(3)}"

    def send(
        self,
        kind: str,
        attempt: Callable[[str], httpx2.Response],
        on_attempt: Callable[[str], None] | None = None,
    ) -> tuple[httpx2.Response, str, float] | None:
        """Send until answered, retrying the same payload when the server does not answer (or
        answers 5xx, which is counted as a failure). Returns (answer, request id, seconds)."""
        deadline = time.monotonic() + self.plan.give_up_after
        delay = 0.05
        while True:
            request_id = self.request_id()
            if on_attempt is not None:
                on_attempt(request_id)
            self.ledger.count(kind, "attempts")
            started = time.monotonic()
            try:
                answer = attempt(request_id)
            except httpx2.TransportError:
                self.ledger.count(kind, "interrupted")
            else:
                self.ledger.count(kind, "answered")
                if answer.status_code < 500:
                    return answer, request_id, time.monotonic() - started
                self.ledger.count(kind, "http_5xx")
                self.ledger.sample(f"{kind}: HTTP {answer.status_code}: {answer.text[:300]}")
            if time.monotonic() > deadline:
                self.ledger.count(kind, "gave_up")
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def handshake(self) -> None:
        sent = self.send("handshake", self.mcp.handshake)
        if sent is None:
            return
        answer, _request_id, latency = sent
        try:
            handshake_result(answer)
        except RpcFailure as failure:
            self.ledger.failed("handshake", failure.detail)
            return
        self.ledger.succeeded("handshake", latency)

    def call(self, kind: str, tool: str, args: dict, write: Write | None = None):
        """One tools/call until answered; its structuredContent, or None when it failed."""
        sent = self.send(
            kind,
            lambda request_id: self.mcp.call_tool(tool, args, request_id),
            on_attempt=write.request_ids.append if write is not None else None,
        )
        if sent is None:
            return None
        answer, request_id, latency = sent
        try:
            structured = tool_result(answer)
        except RpcFailure as failure:
            self.ledger.failed(kind, f"{tool}: {failure}")
            return None
        self.ledger.succeeded(kind, latency)
        return structured, request_id


class Agent(Client):
    """An agent doing a random mix of reads, replies, notes, drafts and inbound posts."""

    def __init__(self, n: int, plan: Plan, seed: int):
        super().__init__(f"agent{n}", plan, seed, MODERN if n % 2 else LEGACY)
        self._keys = itertools.count(1)
        self._kinds = [kind for kind, _ in MIX]
        self._weights = [weight for _, weight in MIX]

    def work(self) -> None:
        while not self.plan.stop.is_set():
            kind = self.rng.choices(self._kinds, self._weights)[0]
            if kind in WRITE_TOOLS:
                self.mcp_write(kind)
            else:
                getattr(self, kind)()

    def words(self, n: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(n))

    def key(self, kind: str) -> str:
        return f"{self.name}-{kind}-{next(self._keys)}-{secrets.token_hex(4)}"

    # --- reads -----------------------------------------------------------------------------

    def get_conversation(self) -> None:
        display_id = self.ledger.pick_conversation(self.rng)
        got = self.call(
            "get_conversation",
            "get_conversation",
            {"conversation_id": display_id, "messages_limit": 20},
        )
        if got and got[0]["conversation"]["display_id"] != display_id:
            self.ledger.failed("get_conversation", f"asked {display_id}, got another one")

    def list_conversations(self) -> None:
        args = {"status": self.rng.choice(["open", "all"]), "limit": self.rng.choice([10, 25])}
        if self.rng.random() < 0.3:
            args["inbox_id"] = self.rng.choice(self.plan.world.inboxes).id
        self.call("list_conversations", "list_conversations", args)

    def search_conversations(self) -> None:
        self.call(
            "search_conversations",
            "search_conversations",
            {"query": self.words(self.rng.choice([1, 2])), "limit": 10},
        )

    # --- writes ----------------------------------------------------------------------------

    def mcp_write(self, kind: str) -> None:
        key = self.key(kind)
        write = Write(
            kind=kind,
            key=key,
            body=f"[stress {kind} {key}] {self.words(8)}",
            conversation=self.ledger.pick_conversation(self.rng),
        )
        self.ledger.add_write(write)
        args = {"conversation_id": write.conversation, "body": write.body, "idempotency_key": key}
        got = self.call(kind, WRITE_TOOLS[kind], args, write)
        if got is None:
            return
        structured, request_id = got
        write.acked_id = structured["draft" if kind == "draft" else "message"]["id"]
        write.ack_request_id = request_id

    def inbound(self) -> None:
        inbox = self.rng.choice(self.plan.world.inboxes)
        customer = self.rng.randrange(SEED_CONTACTS + NEW_CUSTOMERS)
        source_id = self.key("in")
        write = Write(
            kind="inbound",
            key=source_id,
            body=f"[stress inbound {source_id}] {self.words(8)}",
            inbox_id=inbox.id,
        )
        self.ledger.add_write(write)
        payload = {
            "contact": {"email": customer_email(customer), "name": f"Customer {customer}"},
            "content": write.body,
            "source_id": source_id,
        }
        sent = self.send(
            "inbound",
            lambda request_id: post_inbound(
                self.http, self.plan.base_url, inbox.uid, inbox.secret, payload, request_id
            ),
            on_attempt=write.request_ids.append,
        )
        if sent is None:
            return
        answer, request_id, latency = sent
        if answer.status_code not in (200, 201):
            self.ledger.failed("inbound", f"HTTP {answer.status_code}: {answer.text[:300]}")
            return
        body = answer.json()
        write.acked_id = body["message_id"]
        write.ack_request_id = request_id
        write.conversation = body["conversation_id"]
        write.ack_duplicate = body["duplicate"]
        self.ledger.learn_conversation(body["conversation_id"])
        self.ledger.succeeded("inbound", latency)


class Poller(Client):
    """An agent following poll_events with its own cursor, keeping every event id it saw."""

    def __init__(self, n: int, plan: Plan, seed: int, types: list[str] | None = None):
        super().__init__(f"poller{n}", plan, seed, MODERN if n % 2 else LEGACY)
        self.types = types
        self.cursor: str | None = None
        self.seen: list[int] = []
        self.pages = 0

    def poll(self) -> bool | None:
        """One page; True when more is waiting, None when the call failed."""
        args = {"limit": self.rng.choice([10, 50, 100])}
        if self.cursor is not None:
            args["cursor"] = self.cursor
        if self.types:
            args["types"] = self.types
        got = self.call("poll", "poll_events", args)
        if got is None:
            return None
        page = got[0]
        self.seen.extend(event["id"] for event in page["events"])
        self.cursor = page["next_cursor"]  # only an answered page moves the cursor
        self.pages += 1
        return page["has_more"]

    def work(self) -> None:
        while not self.plan.stop.is_set():
            if not self.poll():
                time.sleep(self.rng.uniform(0.02, 0.2))
        self.plan.drain.wait()
        # Nobody writes any more: read to the end of the feed.
        for _ in range(100_000):
            more = self.poll()
            if more is None:
                self.ledger.thread_failures.append(f"{self.name}: the final drain failed")
                return
            if not more:
                return
