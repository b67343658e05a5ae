"""The TypeScript clients most agents are built on, and the MCP Inspector CLI, against a live
Deskwoot (gunicorn, 2 workers).

Three client runs, each one Node process (tests/mcp/ts/drive.mjs) that performs every call and
prints a JSON report: the SDK client v1 (`@modelcontextprotocol/sdk`, handshake era) and the v2
client package (`@modelcontextprotocol/client`) in both eras. Each run gets its own workspace
and calls all 21 tools once with valid arguments (the result must pass the SDK's own output
schema validation), then makes each kind of business error and a scope refusal, and the tests
assert what the agent sees: the text of the result, or of the error the client throws.

The v1 client validates `structuredContent` against the tool's outputSchema even when
`isError` is true, so a business error carrying `structuredContent: {"error": ...}` reached the
agent as a schema-validation exception instead of the error. Errors therefore carry no
structuredContent, only a text block with the JSON `{"error": {"code", "message", ...}}`.

The Inspector (`--cli`) lists the tools with its schema portability check, which must find
nothing, and calls whoami. `scripts/node-tools-setup.sh` installs Node 22 and the pinned
packages into .tools/node; `make test` runs it and sets DESKWOOT_MCP_CLIENTS.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from deskwoot.mcp import registry
from deskwoot.mcp.tools import TOOL_ORDER
from deskwoot.policy import SCOPES
from deskwoot.services.access.tokens import PRESETS
from deskwoot.services.conversations import workflow as conversation_service
from tests import factories as f
from tests.mcp.conftest import make_desk
from tests.mcp.helpers import READ_TOOLS, fresh
from tests.mcp.server import ROOT

pytestmark = [pytest.mark.node, pytest.mark.usefixtures("fresh_session")]

DRIVER = Path(__file__).resolve().parent / "ts" / "drive.mjs"
NODE_TIMEOUT = 120
RUNS = ("sdk-v1 legacy", "client-v2 legacy", "client-v2 2026-07-28")


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """The node_modules with node 22 and the clients; fails (never skips) without it."""
    candidates = (
        [Path(os.environ["DESKWOOT_MCP_CLIENTS"])] if os.environ.get("DESKWOOT_MCP_CLIENTS") else []
    )
    candidates.append(ROOT / ".tools/node/node_modules")
    for folder in candidates:
        if (folder / ".bin/node").exists() and (
            folder / "@modelcontextprotocol/inspector"
        ).exists():
            return folder
    pytest.fail(
        "the TypeScript MCP clients are not installed (looked in "
        + ", ".join(str(c) for c in candidates)
        + "). Run `bash scripts/node-tools-setup.sh` (`make test` does)."
    )


def node(modules: Path, args: list[str], tmp: Path, stdin: str | None = None):
    """Run node 22 with HOME in `tmp` (the Inspector keeps a catalog under ~/.mcp-inspector)."""
    env = {**os.environ, "HOME": str(tmp), "DESKWOOT_MCP_CLIENTS": str(modules)}
    return subprocess.run(
        [str(modules / ".bin/node"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
        env=env,
    )


# --- seeding: one workspace per run, with something for every tool to work on -----------------


@dataclass
class Seed:
    token: str
    reader: str  # read-only preset
    calls: dict[str, dict]  # tool -> valid arguments
    errors: dict[str, tuple[str, dict]]  # case -> (tool, arguments)


def seed() -> Seed:
    desk = make_desk()
    ws, admin = desk.workspace, desk.admin_actor
    agent = f.make_user(ws, role="agent", inboxes=[desk.inbox], name="Ann Agent")
    f.make_label(ws, "refund")
    contact = f.make_contact(ws, name="Carla Customer", email="carla@example.test")
    conv = f.make_conversation(desk.inbox, contact, "Where is my parcel?").display_id
    to_escalate = f.make_conversation(desk.inbox).display_id
    taken_over = f.make_conversation(desk.inbox).display_id
    conversation_service.take_over(admin, taken_over)
    reply = {"conversation_id": conv, "body": "It ships today.", "idempotency_key": "reply-1"}
    calls = {
        "whoami": {},
        "list_inboxes": {},
        "list_labels": {},
        "list_conversations": {"status": "all"},
        "search_conversations": {"query": "parcel"},
        "get_conversation": {"conversation_id": conv},
        "reply_to_conversation": reply,
        "add_private_note": {"conversation_id": conv, "body": "Checked the carrier."},
        "create_draft_reply": {
            "conversation_id": conv,
            "body": "A refund is on its way.",
            "note_to_reviewer": "Please confirm the amount.",
        },
        "list_drafts": {},
        "update_conversation": {
            "conversation_id": conv,
            "priority": "high",
            "add_labels": ["refund"],
        },
        "assign_conversation": {"conversation_id": conv, "assignee_id": agent.id},
        "escalate_to_human": {"conversation_id": to_escalate, "reason": "Asks for a chargeback"},
        "list_agents": {},
        "start_conversation": {
            "inbox_id": desk.inbox.id,
            "contact_id": contact.id,
            "subject": "Your order",
            "body": "Your order has shipped.",
            "idempotency_key": "start-1",
        },
        "search_contacts": {"query": "Carla"},
        "get_contact": {"contact_id": contact.id},
        "create_contact": {"name": "Nina New", "email": "nina@example.test"},
        "update_contact": {"contact_id": contact.id, "phone": "+1 555 0100"},
        "add_contact_note": {"contact_id": contact.id, "body": "Prefers email."},
        "poll_events": {},
    }
    errors = {
        "not_found": ("get_conversation", {"conversation_id": 9999}),
        "invalid_arguments": (
            "create_draft_reply",
            # `text` for `body`: the typo must be named, not just "body is required".
            {"conversation_id": conv, "text": "Hi"},
        ),
        "taken_over": (
            "reply_to_conversation",
            {"conversation_id": taken_over, "body": "Hello?", "idempotency_key": "reply-2"},
        ),
        # After calls["reply_to_conversation"]: the same key with another body.
        "idempotency_mismatch": ("reply_to_conversation", {**reply, "body": "Something else"}),
    }
    token = desk.mint(SCOPES)
    reader = desk.mint(PRESETS["read_only"][1], name="Reader")
    fresh()
    return Seed(token, reader, calls, errors)


# What the agent must read in the error's text: {"error": {...}} holding at least these.
EXPECTED_ERRORS = {
    "not_found": {"code": "not_found", "message": "Conversation 9999 was not found."},
    "invalid_arguments": {
        "code": "invalid_arguments",
        "message": "Unknown argument(s) 'text'. This tool takes: "
        + ", ".join(registry.get("create_draft_reply").input_schema["properties"])
        + ".",
    },
    "taken_over": {
        "code": "conflict",
        "message": "A human teammate has taken over this conversation, so bot replies are "
        "paused. Add a private note or create a draft instead.",
        "reason": "handoff",
    },
    "idempotency_mismatch": {
        "code": "conflict",
        "message": "This idempotency_key was already used with different arguments. Use a new "
        "key for a new action, or resend the original arguments to get the original result.",
        "reason": "idempotency_mismatch",
    },
}
SCOPE_REFUSAL = (
    "This token lacks the 'conversations:reply' scope needed for reply_to_conversation. Ask an "
    "admin to mint a token with that scope."
)


def plan(client: str, era: str, url: str, seeded: Seed) -> dict:
    full = [{"id": tool, "tool": tool, "arguments": args} for tool, args in seeded.calls.items()]
    full += [
        {"id": case, "tool": tool, "arguments": args}
        for case, (tool, args) in seeded.errors.items()
    ]
    refused = {
        "id": "scope",
        "tool": "reply_to_conversation",
        "arguments": {"conversation_id": 1, "body": "Hi", "idempotency_key": "reply-3"},
    }
    return {
        "client": client,
        "era": era,
        "url": url,
        "sessions": [
            {"name": "full", "token": seeded.token, "calls": full},
            {"name": "reader", "token": seeded.reader, "calls": [refused]},
        ],
    }


@pytest.fixture(scope="module", params=RUNS)
def report(request, live, node_modules, tmp_path_factory) -> dict:
    """One Node process per client run: every call, then the JSON report it printed."""
    client, era = request.param.split()
    fresh()
    seeded = seed()
    tmp = tmp_path_factory.mktemp("ts-client")
    done = node(node_modules, [str(DRIVER)], tmp, json.dumps(plan(client, era, live.url, seeded)))
    assert done.returncode == 0, f"{request.param} failed:\n{done.stderr}\n{done.stdout}"
    report = json.loads(done.stdout)
    assert (report["client"], report["era"]) == (client, era)
    return report


def call_in(report: dict, call_id: str) -> dict:
    assert call_id in report["calls"], f"no call {call_id!r}: add it to seed()"
    return report["calls"][call_id]


def test_lists_the_tools_each_token_may_use(report):
    assert report["sessions"]["full"]["tools"] == list(TOOL_ORDER)
    assert report["sessions"]["reader"]["tools"] == READ_TOOLS


@pytest.mark.parametrize("tool", TOOL_ORDER)
def test_every_tool_answers_with_valid_structured_content(report, tool):
    seen = call_in(report, tool)
    assert seen["thrown"] is None, f"{tool}: the client threw {seen['thrown']}"
    assert seen["isError"] is False, f"{tool}: {seen['text']}"
    assert seen["structuredContent"], seen
    assert seen["schemaValid"] is True, f"{tool}: {seen['schemaErrors']}"
    assert json.loads(seen["text"]).keys() == seen["structuredContent"].keys()


@pytest.mark.parametrize("case", sorted(EXPECTED_ERRORS))
def test_business_errors_reach_the_agent_as_text(report, case):
    seen = call_in(report, case)
    # The v1 client threw "Structured content does not match the tool's output schema" here
    # while errors carried structuredContent.
    assert seen["thrown"] is None, f"{case}: the client threw {seen['thrown']}"
    assert seen["isError"] is True
    assert seen["structuredContent"] is None
    error = json.loads(seen["text"])["error"]
    assert error.items() >= EXPECTED_ERRORS[case].items()


def test_scope_refusal_is_a_json_rpc_error_the_client_throws(report):
    thrown = call_in(report, "scope")["thrown"]
    assert thrown is not None
    if report["client"] == "sdk-v1":
        # v1 surfaces the HTTP 403 with the JSON-RPC error body in its message.
        assert thrown["name"] == "StreamableHTTPError" and thrown["code"] == 403
        assert SCOPE_REFUSAL in thrown["message"]
        assert '"required_scope":"conversations:reply"' in thrown["message"]
    else:
        # v2 reads the WWW-Authenticate challenge (error="insufficient_scope", scope=...) and,
        # having no OAuth provider to step up with, throws the scope it names; our sentence
        # rides along as the challenge's error_description.
        assert thrown["name"] == "InsufficientScopeError"
        assert thrown["message"] == 'Insufficient scope: required "conversations:reply"'
        assert thrown["errorDescription"] == (
            "This token lacks the conversations:reply scope needed for reply_to_conversation"
        )


# --- the MCP Inspector CLI ------------------------------------------------------------------


def inspector(modules: Path, tmp: Path, url: str, token: str, *args: str):
    cli = modules / ".bin/mcp-inspector"
    return node(
        modules,
        [
            *(str(cli), "--cli", url, "--transport", "http", "--format", "json"),
            *("--header", f"Authorization: Bearer {token}", *args),
        ],
        tmp,
    )


def test_inspector_lists_the_tools_with_portable_schemas(live, node_modules, tmp_path):
    fresh()
    token = make_desk().mint(SCOPES)
    fresh()
    done = inspector(node_modules, tmp_path, live.url, token, "--method", "tools/list", "--strict")
    # --strict reports each schema portability finding on stderr (and exits 6 on an error);
    # with --format json a finding also lands in the envelope as schemaFindings.
    assert done.returncode == 0, done.stderr
    envelope = json.loads(done.stdout)
    assert "schemaFindings" not in envelope, envelope.get("schemaFindings")
    assert "Warning:" not in done.stderr and "Schema portability" not in done.stderr
    assert [tool["name"] for tool in envelope["result"]["tools"]] == list(TOOL_ORDER)


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_inspector_calls_whoami(live, node_modules, tmp_path, era):
    fresh()
    token = make_desk().mint(["conversations:read"], name="Inspector")
    fresh()
    done = inspector(
        node_modules,
        tmp_path,
        live.url,
        token,
        *("--method", "tools/call", "--tool-name", "whoami", "--protocol-era", era),
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["result"]
    assert result["isError"] is False
    assert result["structuredContent"]["token"]["name"] == "Inspector"
    assert result["structuredContent"]["token"]["scopes"] == ["conversations:read"]


def test_inspector_shows_a_business_error(live, node_modules, tmp_path):
    fresh()
    token = make_desk().mint(SCOPES)
    fresh()
    done = inspector(
        node_modules,
        tmp_path,
        live.url,
        token,
        *("--method", "tools/call", "--tool-name", "get_conversation"),
        *("--tool-args-json", '{"conversation_id": 9999}'),
    )
    assert done.returncode == 5, done.stderr  # the Inspector's exit code for isError: true
    result = json.loads(done.stdout)["result"]
    assert result["isError"] is True and "structuredContent" not in result
    assert json.loads(result["content"][0]["text"])["error"] == {
        "code": "not_found",
        "message": "Conversation 9999 was not found.",
    }


# --- schema portability, without a server ---------------------------------------------------


def type_arrays(schema, path: str = "") -> list[str]:
    """Where a (sub)schema's `type` is a list: the construct the Inspector warns about."""
    found = []
    if isinstance(schema, dict):
        if isinstance(schema.get("type"), list):
            found.append(path or "/")
        for key, value in schema.items():
            found += type_arrays(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found += type_arrays(value, f"{path}/{index}")
    return found


@pytest.mark.parametrize("tool", TOOL_ORDER)
def test_tool_schemas_use_one_type_per_schema(tool):
    spec = registry.get(tool)
    assert type_arrays(spec.input_schema) == []
    assert type_arrays(spec.output_schema) == []
