"""Row generators for the benchmark database: plain tuples, ready for executemany.

Everything comes from one seeded random.Random, so a size always produces the same rows
(times are relative to the moment of generation). Text is drawn from bench/words.txt with
Zipf weights: the common words are common, so full-text posting lists have honest sizes.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

WORDS_FILE = Path(__file__).with_name("words.txt")
DAY = 86400.0


@dataclass(frozen=True)
class Size:
    name: str
    contacts: int
    conversations: int
    messages: int
    events: int
    recent_events: int  # how many of the newest events fall in the last 24 hours
    drafts: int
    history_days: int  # conversations start within this many days


SIZES = {
    "full": Size("full", 10_000, 100_000, 1_000_000, 1_000_000, 5_000, 500, 365),
    "small": Size("small", 1_000, 1_000, 10_000, 10_000, 5_000, 50, 365),
    "tiny": Size("tiny", 50, 100, 400, 400, 200, 10, 60),
}


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


INBOXES = (
    ("Support", "api"),
    ("Billing", "email"),
    ("Sales", "email"),
    ("Website chat", "web"),
    ("Partners", "api"),
)
LABELS = (
    "billing",
    "refund",
    "bug",
    "feature-request",
    "vip",
    "shipping",
    "returns",
    "onboarding",
    "account",
    "login",
    "password-reset",
    "invoice",
    "upgrade",
    "downgrade",
    "cancellation",
    "churn-risk",
    "enterprise",
    "trial",
    "integration",
    "api",
    "mobile",
    "web",
    "email",
    "outage",
    "performance",
    "security",
    "privacy",
    "gdpr",
    "feedback",
    "praise",
    "complaint",
    "urgent",
    "follow-up",
    "waiting-on-customer",
    "waiting-on-dev",
    "duplicate",
    "spam",
    "sales-lead",
    "partner",
    "reseller",
    "education",
    "nonprofit",
    "translation",
    "documentation",
    "how-to",
    "data-import",
    "data-export",
    "sso",
    "billing-dispute",
    "hardware",
)
COLORS = ("#1f6feb", "#d73a49", "#28a745", "#6f42c1", "#e36209", "#6b7280", "#0366d6")
FIRST = words(
    "Ada Alan Amara Ana Ben Bea Carla Chen Chloe Dan Dev Diego Ed Elena Emma Eli Fatima Finn "
    "Grace Hana Hugo Ian Ines Ivan Jada Jon Julia Kai Kemal Lea Leo Lina Luca Maya Mia Nadia "
    "Noah Nora Omar Olga Paul Priya Quinn Rosa Ravi Sam Sara Sofia Tom Tara Uma Vera Victor "
    "Wei Will Xena Yara Yusuf Zoe Zane"
)
LAST = words(
    "Abbott Adams Ahmed Bauer Becker Brown Campbell Chen Costa Diaz Dubois Evans Fischer Garcia "
    "Gomez Hansen Haddad Ito Jensen Jones Kim Kowalski Lee Lopez Martin Meyer Moreau Murphy "
    "Nakamura Nguyen Novak Okafor Olsen Patel Perez Quinn Rossi Santos Schmidt Silva Smith "
    "Suzuki Taylor Tanaka Walker Wang Weber Wilson Yamamoto Young Zhang"
)
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "corp.example")
# Help-desk words that are in words.txt: the search scenario's queries, plus pairs.
SEARCH_CANDIDATES = words(
    "order account delivery payment error broken update email charged crash package damaged "
    "shipping password problem issue price screen battery website download install software "
    "replacement bank card invoice contact return tracking login app"
)

STATUS_RECENT = (("open", 50), ("pending", 20), ("snoozed", 10), ("resolved", 20))
STATUS_OLD = (("open", 8), ("pending", 4), ("snoozed", 3), ("resolved", 85))
PRIORITY = (("none", 50), ("low", 20), ("medium", 15), ("high", 10), ("urgent", 5))
EVENT_MIX = (
    ("message.created", 55),
    ("conversation.updated", 25),
    ("conversation.created", 8),
    ("draft.created", 3),
    ("draft.approved", 1.5),
    ("draft.rejected", 0.5),
    ("contact.created", 4),
    ("contact.updated", 3),
)
CHANGES = (
    '{"status":["open","resolved"]}',
    '{"status":["resolved","open"]}',
    '{"status":["open","pending"]}',
    '{"priority":["none","high"]}',
    '{"assignee_id":[null,%(agent)d]}',
    '{"labels":{"added":["billing"],"removed":[]}}',
)


def load_words() -> list[str]:
    lines = WORDS_FILE.read_text().splitlines()
    return [w for w in lines if w and not w.startswith("#")]


def weighted(rng: random.Random, pairs) -> list:
    """A list of 1,000 values in the given proportions, to draw from with rng.choice."""
    total = sum(w for _, w in pairs)
    out = []
    for value, w in pairs:
        out += [value] * round(1000 * w / total)
    rng.shuffle(out)
    return out


_day_cache: dict[int, str] = {}


def ts(t: float) -> str:
    """SQLAlchemy's SQLite DATETIME text for a UTC epoch time ('YYYY-MM-DD HH:MM:SS.ffffff')."""
    sec = int(t)
    day, sod = divmod(sec, 86400)
    date = _day_cache.get(day)
    if date is None:
        date = _day_cache[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
    hours, rest = divmod(sod, 3600)
    minutes, seconds = divmod(rest, 60)
    return "%s %02d:%02d:%02d.%06d" % (date, hours, minutes, seconds, int((t - sec) * 1e6))  # noqa: UP031


class Text:
    """Message bodies and subjects: slices of one long Zipf-distributed word stream."""

    POOL = 2_000_000

    def __init__(self, rng: random.Random, words: list[str], pool: int = POOL):
        cum = list(itertools.accumulate(1.0 / (rank + 2.7) for rank in range(len(words))))
        stream = rng.choices(words, cum_weights=cum, k=pool)
        i = rng.randrange(4, 16)
        while i < pool - 1:  # sentences of 4-20 words
            stream[i] += "." if rng.random() < 0.85 else "?"
            stream[i + 1] = stream[i + 1].capitalize()
            i += rng.randrange(4, 21)
        self.stream = stream
        self.rng = rng
        self.chars_per_word = sum(len(w) + 1 for w in stream[:100_000]) / 100_000

    def body(self) -> str:
        rng = self.rng
        chars = min(600, max(20, int(rng.lognormvariate(math.log(150), 0.75))))
        n = max(4, round(chars / self.chars_per_word))
        start = rng.randrange(len(self.stream) - n)
        text = " ".join(self.stream[start : start + n + (n < 8) * 6])
        if len(text) > 599:  # 20-600 characters with the final stop
            text = text[:599].rsplit(" ", 1)[0]
        text = text[0].upper() + text[1:]
        return text if text[-1] in ".?" else text + "."

    def subject(self) -> str:
        n = self.rng.randrange(3, 9)
        start = self.rng.randrange(len(self.stream) - n)
        text = " ".join(w.rstrip(".?") for w in self.stream[start : start + n])
        return text[0].upper() + text[1:]


@dataclass
class World:
    """Ids the generated rows refer to (made through the real services first)."""

    workspace_id: int
    admin_id: int
    bot_id: int
    token_id: int
    agents: list[tuple[int, str]]  # (user id, name)
    inbox_agents: dict[int, list[int]]  # inbox id -> agent ids who work it
    label_ids: list[int]
    now: float


class Generator:
    """Produce every bulk table's rows for one size, in id order."""

    def __init__(self, size: Size, world: World, seed: int = 5):
        self.size, self.world = size, world
        self.rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
        pool = min(Text.POOL, max(200_000, size.messages * 40))
        self.text = Text(self.rng, load_words(), pool=pool)
        self.contacts: list[tuple[str, str]] = []  # (name, email) by index
        self.convs: list[tuple[int, int, list[float]]] = []  # (inbox, contact index, times)

    # --- contacts ---------------------------------------------------------------------------
    def contact_rows(self, first_id: int):
        rng, now, ws = self.rng, self.world.now, self.world.workspace_id
        for i in range(self.size.contacts):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            name = f"{first} {last}"
            email = f"{first.lower()}.{last.lower()}{i}@{rng.choice(DOMAINS)}"
            self.contacts.append((name, email))
            created = now - rng.random() * 400 * DAY
            attrs = "{}"
            if rng.random() < 0.3:
                attrs = json.dumps(
                    {
                        "company": f"{rng.choice(LAST)} Ltd",
                        "plan": rng.choice(("free", "pro", "team")),
                    }
                )
            yield (
                first_id + i,
                ws,
                name,
                email,
                f"+1555{i:07d}" if rng.random() < 0.4 else None,
                f"cust-{i}" if rng.random() < 0.3 else None,
                attrs,
                "inbound",
                ts(created),
                ts(created + rng.random() * 30 * DAY),
            )

    # --- conversations, their messages and labels ------------------------------------------
    def plan_conversations(self, inbox_ids: list[int]) -> None:
        """Decide each conversation's inbox, contact and message times (oldest first)."""
        rng, size, now = self.rng, self.size, self.world.now
        counts = [rng.gammavariate(1.6, 1.0) for _ in range(size.conversations)]
        scale = (size.messages - size.conversations) / sum(counts)
        counts = [1 + int(c * scale) for c in counts]
        for _ in range(size.messages - sum(counts)):  # rounding remainder
            counts[rng.randrange(len(counts))] += 1
        starts = sorted(
            now - rng.random() * size.history_days * DAY for _ in range(size.conversations)
        )
        for start, count in zip(starts, counts, strict=True):
            times, t = [], start
            for _ in range(count):
                times.append(t)
                t += rng.expovariate(1 / 5400)  # replies ~1.5 h apart
            if times[-1] > now - 60:  # squeeze the thread into the past
                span = times[-1] - start or 1
                times = [start + (x - start) * (now - 60 - start) / span for x in times]
            self.convs.append((rng.choice(inbox_ids), rng.randrange(len(self.contacts)), times))

    def conversation_rows(self, first_id: int, first_contact_id: int):
        rng, w = self.rng, self.world
        recent, old = weighted(rng, STATUS_RECENT), weighted(rng, STATUS_OLD)
        priorities = weighted(rng, PRIORITY)
        for i, (inbox, contact, times) in enumerate(self.convs):
            display_id = i + 1
            status = rng.choice(recent if w.now - times[-1] < 7 * DAY else old)
            snoozed = ts(w.now + rng.uniform(3600, 14 * DAY)) if status == "snoozed" else None
            agents = w.inbox_agents.get(inbox) or [a for a, _ in w.agents]
            assignee = rng.choice(agents) if rng.random() < 0.75 else None
            handoff = display_id % 50 == 0  # the reply scenario skips these
            channel = rng.choice(("web", "app", "phone"))
            attrs = (
                f'{{"order_id":{rng.randrange(10**6)},"channel":"{channel}"}}'
                if rng.random() < 0.2
                else "{}"
            )
            yield (
                first_id + i,
                w.workspace_id,
                display_id,
                inbox,
                first_contact_id + contact,
                self.text.subject() if rng.random() < 0.9 else None,
                status,
                snoozed,
                rng.choice(priorities),
                assignee,
                attrs,
                handoff,
                "Customer asked for a person." if handoff else None,
                ts(times[-1]),
                ts(times[0]),
                ts(times[-1] + 30),
            )

    def label_rows(self, first_conversation_id: int):
        rng, labels = self.rng, self.world.label_ids
        for i in range(len(self.convs)):
            for label in rng.sample(labels, rng.choice((0, 0, 0, 1, 1, 1, 1, 2, 2, 3))):
                yield (first_conversation_id + i, label)

    def message_rows(self, first_id: int, first_conversation_id: int, first_contact_id: int):
        rng, w, body = self.rng, self.world, self.text.body
        ws, agents = w.workspace_id, [a for a, _ in w.agents]
        message_id = first_id
        for i, (inbox, contact, times) in enumerate(self.convs):
            conversation_id, contact_id = first_conversation_id + i, first_contact_id + contact
            previous = "outgoing"
            for j, t in enumerate(times):
                if j and rng.random() < 0.1:
                    kind = "note"
                elif rng.random() < 0.8:
                    kind = previous = "incoming" if previous == "outgoing" else "outgoing"
                else:
                    kind = previous
                if kind == "incoming":
                    row = (
                        message_id,
                        ws,
                        conversation_id,
                        inbox,
                        kind,
                        "contact",
                        contact_id,
                        None,
                        None,
                        None,
                        body(),
                        f"src-{message_id}" if rng.random() < 0.5 else None,
                        None,
                        ts(t),
                    )
                elif kind == "outgoing" and rng.random() < 0.1:  # the bot answered
                    row = (
                        message_id,
                        ws,
                        conversation_id,
                        inbox,
                        kind,
                        "bot",
                        None,
                        w.bot_id,
                        w.token_id,
                        None,
                        body(),
                        None,
                        "sent",
                        ts(t),
                    )
                else:
                    row = (
                        message_id,
                        ws,
                        conversation_id,
                        inbox,
                        kind,
                        "user",
                        None,
                        rng.choice(agents),
                        None,
                        None,
                        body(),
                        None,
                        "sent" if kind == "outgoing" else None,
                        ts(t),
                    )
                message_id += 1
                yield row

    def draft_rows(self, first_id: int, first_conversation_id: int):
        rng, w = self.rng, self.world
        picks = rng.sample(range(len(self.convs)), min(self.size.drafts, len(self.convs)))
        statuses = weighted(rng, (("pending", 60), ("approved", 25), ("rejected", 15)))
        for n, i in enumerate(picks):
            status = rng.choice(statuses)
            created = self.convs[i][2][-1] + 60
            reviewed = ts(created + 600) if status != "pending" else None
            yield (
                first_id + n,
                w.workspace_id,
                first_conversation_id + i,
                w.bot_id,
                w.token_id,
                self.text.body(),
                "Please check the tone." if rng.random() < 0.3 else None,
                status,
                rng.choice(w.agents)[0] if reviewed else None,
                reviewed,
                None,
                None,
                "Not accurate." if status == "rejected" else None,
                ts(created),
            )

    # --- events ----------------------------------------------------------------------------
    def event_rows(
        self, first_id: int, first_conversation_id: int, first_contact_id: int, max_message_id: int
    ):
        rng, w, size = self.rng, self.world, self.size
        kinds = weighted(rng, EVENT_MIX)
        recent = min(size.recent_events, size.events // 2)
        old = size.events - recent
        old_start, old_span = w.now - 30 * DAY, 29 * DAY - 120
        recent_start, recent_span = w.now - DAY + 60, DAY - 180
        agents = w.agents
        for n in range(size.events):
            if n < old:
                t = old_start + old_span * (n / old)
            else:
                t = recent_start + recent_span * ((n - old) / max(1, recent))
            kind = rng.choice(kinds)
            ci = rng.randrange(len(self.convs))
            inbox, contact, _ = self.convs[ci]
            conversation_id, display_id = first_conversation_id + ci, ci + 1
            contact_id = first_contact_id + contact
            actor = ("user", *rng.choice(agents), None)
            if kind == "message.created":
                sender = rng.choice(("contact", "contact", "user", "bot"))
                msg_kind = {"contact": "incoming", "bot": "outgoing"}.get(
                    sender, rng.choice(("outgoing", "note"))
                )
                data = (
                    '{"display_id":%d,"message_id":%d,"kind":"%s","sender_type":"%s"}'  # noqa: UP031
                    % (display_id, rng.randrange(1, max_message_id + 1), msg_kind, sender)
                )
                if sender == "contact":
                    actor = ("contact", contact_id, self.contacts[contact][0], None)
                elif sender == "bot":
                    actor = ("bot", w.bot_id, "Bench agent", w.token_id)
            elif kind == "conversation.updated":
                change = rng.choice(CHANGES) % {"agent": rng.choice(agents)[0]}
                data = '{"display_id":%d,"changes":%s}' % (display_id, change)  # noqa: UP031
            elif kind == "conversation.created":
                data = json.dumps(
                    {"display_id": display_id, "subject": self.text.subject(), "status": "open"},
                    separators=(",", ":"),
                )
                actor = ("contact", contact_id, self.contacts[contact][0], None)
            elif kind.startswith("draft."):
                data = '{"display_id":%d,"draft_id":%d}' % (display_id, rng.randrange(1, 10**5))  # noqa: UP031
                if kind == "draft.created":
                    actor = ("bot", w.bot_id, "Bench agent", w.token_id)
            else:  # contact.created / contact.updated carry no inbox or conversation
                name, email = self.contacts[contact]
                snapshot = {
                    "contact_id": contact_id,
                    "name": name,
                    "email": email,
                    "phone": None,
                    "identifier": None,
                }
                if kind == "contact.updated":
                    snapshot = {"changed": ["name"], **snapshot}
                data = json.dumps(snapshot, separators=(",", ":"))
                yield (
                    first_id + n,
                    w.workspace_id,
                    None,
                    kind,
                    None,
                    contact_id,
                    *actor,
                    data,
                    ts(t),
                )
                continue
            yield (
                first_id + n,
                w.workspace_id,
                inbox,
                kind,
                conversation_id,
                contact_id,
                *actor,
                data,
                ts(t),
            )
