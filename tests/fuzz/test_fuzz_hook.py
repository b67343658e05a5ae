"""Fuzzing the inbound hook, POST /hooks/inbound/<inbox uid>: over 2,000 requests per run.

Every request goes through HookProbe.post, which checks (properties.py): never a 5xx, always
a JSON object (the message ids on 200/201, {"error": {code, message}} otherwise), a message
written exactly when the answer is 201, and nothing at all written otherwise.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import strategies as S
from tests.fuzz.conftest import HOOK_SECRET, OTHER_SECRET, batches, fuzz_settings

BUDGET = {
    "random_documents": 450,
    "mutated_payloads": 650,
    "valid_payloads": 300,  # each one stores a message or finds a duplicate: the dearest
    "raw_bytes": 250,
    "headers_and_paths": 350,
}
assert sum(BUDGET.values()) >= 2_000

HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {HOOK_SECRET}"}
MAX_CONTENT = 1024 * 1024


def path(uid: str) -> str:
    return "/hooks/inbound/" + quote(uid, safe="")


# Mostly deliverable values, with a hostile one now and then: the mutation and random-document
# tests bring the rest of the hostility.
contents = st.one_of(
    S.clean_text(1, 60),
    S.clean_text(1, 60),
    st.sampled_from(["Refund please", "x" * 20_000, "x" * 20_001, " \n\t ", "\u00a0"]),
    S.texts,
)
new_emails = st.text("abcdefgh", min_size=1, max_size=6).map(lambda local: f"{local}@example.test")


@functools.cache  # strategies are cheap to draw from and dear to build: once per world
def payloads(world) -> st.SearchStrategy:
    """A well-formed delivery: a contact, content, and the optional fields."""
    contact_fields = (
        ("email", st.sampled_from(world.emails) | new_emails),
        ("name", S.clean_text(1, 30) | S.clean_text(0, 5)),
        ("identifier", st.sampled_from(["cust-1", "cust-2"]) | S.clean_text(1, 30)),
    )
    source_ids = st.sampled_from(world.source_ids) | new_emails | S.clean_text(0, 30)
    subjects = S.clean_text(0, 30) | S.texts
    conversation_ids = st.sampled_from(world.conversation_ids) | S.integers

    @st.composite
    def build(draw) -> dict:
        contact = {key: draw(values) for key, values in contact_fields if draw(st.integers(0, 2))}
        payload: dict = {"contact": contact, "content": draw(contents)}
        if draw(st.booleans()):
            payload["source_id"] = draw(source_ids)
        if draw(st.booleans()):
            payload["subject"] = draw(subjects)
        if draw(st.integers(0, 3)) == 0:
            payload["conversation_id"] = draw(conversation_ids)
        return payload

    return build()


def _post_each(hook_probe, budget: str, bodies: st.SearchStrategy) -> None:
    """POST every generated body to the fuzz inbox's hook, in batches; the probe checks each
    answer and the database, and the run must reach its budget of cases."""

    @fuzz_settings(BUDGET[budget])
    @given(batch=batches(bodies))
    def check(batch):
        for raw in hook_probe.each(batch):
            hook_probe.post(path(hook_probe.world.uid), raw, HEADERS)

    check()
    hook_probe.require(BUDGET[budget])


def test_hook_random_documents(hook_probe):
    """Arbitrary JSON of any shape as the body."""
    documents = st.tuples(S.json_values(), S.encodings).map(lambda case: S.encode(*case))
    _post_each(hook_probe, "random_documents", documents)


@st.composite
def mutated_payloads(draw, world) -> bytes:
    return S.encode(draw(S.mutated(draw(payloads(world)))), draw(S.encodings))


def test_hook_mutated_payloads(hook_probe):
    """Valid deliveries with fields dropped, retyped, replaced by hostile values, or extra."""
    _post_each(hook_probe, "mutated_payloads", mutated_payloads(hook_probe.world))


def test_hook_valid_payloads(hook_probe):
    """Well-formed deliveries: new and known contacts, repeated source_ids, conversation ids
    that are not this contact's. Each is 201, a 200 duplicate, or a JSON error."""
    _post_each(hook_probe, "valid_payloads", payloads(hook_probe.world).map(S.encode))


def _near_limit(delta: int) -> bytes:
    head, tail = b'{"contact":{"email":"big@example.test"},"content":"', b'"}'
    return head + b"x" * (MAX_CONTENT + delta - len(head) - len(tail)) + tail


RAW_KINDS = st.sampled_from(["spliced"] * 20 + ["deep"] * 6 + ["limit"])


@st.composite
def raw_bodies(draw, world) -> bytes:
    """Almost-valid deliveries: byte damage, deep nesting, bodies at the 1 MiB limit."""
    kind = draw(RAW_KINDS)
    if kind == "spliced":
        return draw(S.spliced(S.encode(draw(payloads(world)))))
    if kind == "deep":
        return draw(S.deep_documents({"content": "x"}))
    return _near_limit(draw(st.sampled_from([-1, 0, 1, 4096])))


def test_hook_raw_bytes(hook_probe):
    """Invalid UTF-8, raw surrogates, NaN, NUL, truncation, deep nesting, the 1 MiB edge."""
    _post_each(hook_probe, "raw_bytes", raw_bodies(hook_probe.world))


latin1 = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=40,
)


SECRETS = st.sampled_from(
    [
        (f"Bearer {HOOK_SECRET}", "ours"),
        (f"bearer {HOOK_SECRET}", "ours"),
        (f"Bearer   {HOOK_SECRET}  ", "ours"),
        (f"Bearer {HOOK_SECRET}x", None),
        (f"Bearer {HOOK_SECRET[:-1]}", None),
        (f"Basic {HOOK_SECRET}", None),
        (HOOK_SECRET, None),
        ("Bearer", None),
        ("Bearer ", None),
        (f"Bearer {OTHER_SECRET}", "theirs"),
        (None, None),
    ]
) | latin1.map(lambda text: ("Bearer " + text, None))
CONTENT_TYPES = st.sampled_from(
    [None, "application/json", "text/plain", "application/x-www-form-urlencoded"]
)


@functools.cache
def deliveries(world) -> st.SearchStrategy:
    """A good payload's destination and credentials: (path, headers, expectation)."""
    uids = st.sampled_from(
        [
            (world.uid, "ours"),
            (world.other_uid, "theirs"),
            ("nope", "unknown"),
            (world.uid.upper(), "unknown"),
            (world.uid + "x", "unknown"),
            ("\x00", "unknown"),
            (world.uid + "\x00", "unknown"),
            ("\u00e9\U0001f600", "unknown"),
            ("x" * 400, "unknown"),
            (" ", "unknown"),
            ("..", "unknown"),
        ]
    ) | latin1.filter(lambda text: "/" not in text and text.strip(".")).map(
        lambda text: (text, "random")
    )

    @st.composite
    def build(draw) -> tuple[str, list, str]:
        uid, known = draw(uids)
        secret, opens = draw(SECRETS)
        content_type = draw(CONTENT_TYPES)
        headers = [("Authorization", secret)] if secret is not None else []
        if content_type:
            headers.append(("Content-Type", content_type))
        if known in ("ours", "theirs"):
            expect = "accepted" if opens == known else "401"
        elif known == "random":
            expect = "any"  # a random uid is (almost surely) unknown, but may not be
        else:
            expect = "404"
        return path(uid), headers, expect

    return build()


def test_hook_headers_and_paths(hook_probe):
    """Secrets (right, wrong, another inbox's, malformed), inbox uids (unknown, NUL, long,
    unicode) and content types: an unknown inbox is 404, a bad secret 401, before the body."""
    world = hook_probe.world

    @fuzz_settings(BUDGET["headers_and_paths"])
    @given(batch=batches(st.tuples(deliveries(world), payloads(world))))
    def check(batch):
        for (url, headers, expect), payload in hook_probe.each(batch):
            res = hook_probe.post(url, S.encode(payload), headers)
            if expect == "404":
                assert res.status_code == 404, (url, res.get_data())
            elif expect == "401":
                assert res.status_code == 401, (url, headers, res.get_data())
            elif expect == "accepted":  # past the gate: only the conversation can be missing
                assert res.status_code != 401, res.get_data()
                assert res.status_code != 404 or "conversation_id" in payload, res.get_data()

    check()
    hook_probe.require(BUDGET["headers_and_paths"])


# --- regressions: bugs this fuzzer found, pinned as plain examples ------------------------


def test_lone_surrogate_key_is_refused_without_being_echoed(hook_probe):
    """An unknown key holding a lone surrogate used to come back in the error message, as
    JSON that strict parsers refuse; such text is now refused up front."""
    raw = b'{"\\ud800": 1, "contact": {"email": "j@example.test"}, "content": "hi"}'
    res = hook_probe.post(path(hook_probe.world.uid), raw, HEADERS)
    assert res.status_code == 400
    assert "lone surrogates" in res.get_json()["error"]["message"]


def test_nul_in_inbox_uid_is_404_on_every_database(hook_probe):
    """A NUL in the inbox uid reached PostgreSQL, which refuses it: a 500 instead of a 404."""
    payload = S.encode({"contact": {"email": "j@example.test"}, "content": "hi"})
    for uid in ("\x00", hook_probe.world.uid + "\x00"):
        res = hook_probe.post(path(uid), payload, HEADERS)
        assert res.status_code == 404 and res.get_json()["error"]["code"] == "not_found"
