"""Bot tokens: minting, checking and revoking (ARCHITECTURE §3).

Two kinds with one shape and one set of rules: `dw_mcp_` tokens open the MCP server, `dw_api_`
tokens the REST API; each opens only its own surface. Format: the prefix + 32 base62
characters from `secrets` (~190 bits) + a 6-character base62 CRC32 of the random part. The
checksum lets us reject typos and garbage before touching the database; only the SHA-256 of
the whole token is stored.
"""

from __future__ import annotations

import hmac
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import and_, bindparam, select, true, update
from sqlalchemy.orm import selectinload

from deskwoot import policy
from deskwoot.database.prebuilt import Prebuilt
from deskwoot.database.transactions import write_transaction
from deskwoot.errors import Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import Inbox, McpToken, Membership, User, Workspace, utcnow
from deskwoot.policy import SCOPES, Actor
from deskwoot.services import validation
from deskwoot.services.access import bot_account
from deskwoot.services.access.random_secrets import digest
from deskwoot.services.activity import audit_recorder as audit
from deskwoot.services.directory import inboxes, workspaces

PREFIXES = {"mcp": "dw_mcp_", "api": "dw_api_"}
PREFIX = PREFIXES["mcp"]  # every prefix has this length
KINDS = tuple(PREFIXES)
# The Enterprise feature (policy.ENTERPRISE_FEATURES) each kind of token opens.
FEATURE_OF_KIND = {"mcp": "mcp", "api": "rest_api"}
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LEN = 32
CHECK_LEN = 6
TOKEN_LEN = len(PREFIX) + RANDOM_LEN + CHECK_LEN
LAST_USED_EVERY = timedelta(minutes=1)

PRESETS = {
    "read_only": ("Read only", ("conversations:read", "contacts:read", "events:read")),
    "drafts": (
        "Drafts for approval",
        (
            "conversations:read",
            "conversations:note",
            "conversations:draft",
            "contacts:read",
            "events:read",
        ),
    ),
    "full": ("Full agent", SCOPES),
}


def preset_scopes(preset: str) -> tuple[str, ...]:
    """The scopes of a named preset (read_only, drafts, full)."""
    if preset not in PRESETS:
        raise Invalid(f"Unknown preset '{preset}'. Presets: {', '.join(PRESETS)}.", field="preset")
    return PRESETS[preset][1]


def _base62(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        out.append(ALPHABET[rem])
    return "".join(reversed(out))


def _checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode("ascii")), CHECK_LEN)


def generate(kind: str = "mcp") -> str:
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LEN))
    return PREFIXES[kind] + random_part + _checksum(random_part)


def kind_of(token: str) -> str | None:
    """Which kind of token `token` claims to be, by its prefix (not whether it is valid)."""
    for kind, prefix in PREFIXES.items():
        if isinstance(token, str) and token.startswith(prefix):
            return kind
    return None


def well_formed(token: str, kind: str | None = None) -> bool:
    """Shape and checksum only: no database, constant work for every bad token. With `kind`,
    only a token of that kind is well formed."""
    claimed = kind_of(token)
    if claimed is None or (kind is not None and claimed != kind) or len(token) != TOKEN_LEN:
        return False
    body = token[len(PREFIX) :]
    if any(ch not in ALPHABET for ch in body):
        return False
    random_part, check = body[:RANDOM_LEN], body[RANDOM_LEN:]
    return hmac.compare_digest(_checksum(random_part), check)


def display(token: McpToken) -> str:
    return f"{token.prefix}…{token.last4}"


@dataclass
class Minted:
    token: McpToken
    plaintext: str  # shown once, never stored


def mint(
    actor: Actor,
    name: str,
    scopes: list[str],
    inbox_ids: list[int] | None = None,
    expires_in_days: int | None = None,
    kind: str = "mcp",
) -> Minted:
    """Create a token for the workspace's bot; returns the plaintext exactly once.

    Only on a plan that includes the token's surface (the MCP server, the REST API): on
    another plan, or after the trial, the workspace can still revoke its old tokens but not
    mint new ones.
    """
    policy.require_admin(actor)
    if kind not in PREFIXES:
        raise Invalid(f"Unknown token kind '{kind}'.", field="kind")
    policy.require_feature(db.session.get(Workspace, actor.workspace_id), FEATURE_OF_KIND[kind])
    name = validation.text(name, "name", max_len=120, required=True)
    scopes = sorted(set(scopes or []))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise Invalid(f"Unknown scope(s): {', '.join(unknown)}.", field="scopes")
    if not scopes:
        raise Invalid("Choose at least one scope.", field="scopes")
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise Invalid("Expiry must be between 1 and 3650 days.", field="expires_in_days")
    plaintext = generate(kind)
    with write_transaction() as session:
        inbox_ids = sorted({policy.get_inbox(actor, i).id for i in inbox_ids or []})
        if kind == "api":
            # The REST API has no switch whose first use provisions the bot (the MCP server
            # does, mcp_switch.set_enabled), so its first token does: every token acts as it.
            bot_account.ensure(session, session.get(Workspace, actor.workspace_id), actor, kind)
        token = McpToken(
            workspace_id=actor.workspace_id,
            kind=kind,
            name=name,
            token_hash=digest(plaintext),
            prefix=plaintext[: len(PREFIX) + 4],
            last4=plaintext[-4:],
            scopes=scopes,
            inbox_ids=inbox_ids,
            created_by_id=actor.user_id,
            created_at=utcnow(),
            expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        session.add(token)
        session.flush()
        audit.record(
            actor,
            f"{kind}.token_minted",
            target=f"{name} ({display(token)})",
            detail="scopes=" + ",".join(scopes),
        )
    return Minted(token, plaintext)


def revoke(actor: Actor, token_id: int, kind: str | None = None) -> McpToken:
    """Revoke a token: the very next request with it fails, on every worker. With `kind`, a
    token of the other kind is not found (each settings page revokes only its own)."""
    policy.require_admin(actor)
    with write_transaction():
        token = _get(actor, token_id, kind)
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            audit.record(
                actor, f"{token.kind}.token_revoked", target=f"{token.name} ({display(token)})"
            )
    return token


def _get(actor: Actor, token_id: int, kind: str | None = None) -> McpToken:
    token = db.session.execute(
        select(McpToken).where(McpToken.workspace_id == actor.workspace_id, McpToken.id == token_id)
    ).scalar_one_or_none()
    if token is None or (kind is not None and token.kind != kind):
        raise NotFound("No such token.")
    return token


def list_tokens(actor: Actor, kind: str | None = "mcp") -> list[McpToken]:
    """The workspace's tokens of one kind (None: every kind), live ones first, newest first."""
    policy.require_admin(actor)
    of_kind = McpToken.kind == kind if kind is not None else true()
    return list(
        db.session.execute(
            select(McpToken)
            .where(McpToken.workspace_id == actor.workspace_id, of_kind)
            .options(selectinload(McpToken.created_by).selectinload(User.memberships))
            .order_by(McpToken.revoked_at.is_not(None), McpToken.id.desc())
        ).scalars()
    )


def find_for_revoke(actor: Actor, needle: str, kind: str = "mcp") -> McpToken:
    """Match a token of `kind` by name, displayed prefix…last4, or the whole token (for the
    CLI)."""
    policy.require_admin(actor)
    tokens = [t for t in list_tokens(actor, kind) if t.revoked_at is None]
    if well_formed(needle):
        matches = [t for t in tokens if hmac.compare_digest(t.token_hash, digest(needle))]
    else:
        matches = [t for t in tokens if needle in (t.name, display(t), t.prefix, t.last4)]
    if not matches:
        raise NotFound(f"No active token matches '{needle}'.")
    if len(matches) > 1:
        listing = "; ".join(f"{t.name} ({display(t)})" for t in matches)
        raise Invalid(f"'{needle}' matches several tokens: {listing}. Be more specific.")
    return matches[0]


def creator_is_admin(token: McpToken) -> bool:
    """policy.minter_stands_behind for a loaded token (its minter's memberships loaded)."""
    creator = token.created_by
    role = (
        next((m.role for m in creator.memberships if m.workspace_id == token.workspace_id), None)
        if creator is not None
        else None
    )
    return policy.minter_stands_behind(
        token.created_by_id, creator is not None and creator.is_active, role
    )


def status(token: McpToken, now: datetime | None = None) -> str:
    """revoked, expired, suspended (see creator_is_admin) or active."""
    now = now or utcnow()
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    if not creator_is_admin(token):
        return "suspended"
    return "active"


def authenticate(plaintext: str | None, kind: str = "mcp") -> tuple[McpToken, Workspace] | None:
    """The live token and its workspace, or None (malformed, unknown, revoked, expired).

    Read from the database on every call, so a revocation takes effect on the next request
    whichever worker serves it.
    """
    if not plaintext or not well_formed(plaintext, kind):
        return None
    row = db.session.execute(
        select(McpToken, Workspace)
        .join(Workspace, Workspace.id == McpToken.workspace_id)
        .where(McpToken.token_hash == digest(plaintext))
    ).first()
    if row is None:
        return None
    token, workspace = row
    if status(token) != "active":  # revoked, expired or suspended
        return None
    return token, workspace


@dataclass(frozen=True)
class LiveToken:
    """What the MCP gate needs about a token and its workspace, read in one Core query."""

    id: int
    kind: str  # "mcp" or "api"
    name: str
    scopes: list
    inbox_ids: list
    last_used_at: datetime | None
    rate_tat: float | None  # the rate limit's state, see services/access/rate_limit.py
    suspended: bool  # its minter is no longer an active admin (creator_is_admin)
    workspace: SimpleNamespace  # id, slug, plan, trial_ends_at, mcp_enabled, bot_user_id


# Built once: constructing a statement costs more than running it on this path.
_LOOKUP = Prebuilt(
    select(
        McpToken.id,
        McpToken.kind,
        McpToken.name,
        McpToken.scopes,
        McpToken.inbox_ids,
        McpToken.last_used_at,
        McpToken.expires_at,
        McpToken.revoked_at,
        McpToken.rate_tat,
        McpToken.created_by_id,
        User.is_active.label("creator_active"),
        Membership.role.label("creator_role"),
        Workspace.id.label("workspace_id"),
        Workspace.slug,
        Workspace.plan,
        Workspace.trial_ends_at,
        Workspace.mcp_enabled,
        Workspace.bot_user_id,
    )
    .join(Workspace, Workspace.id == McpToken.workspace_id)
    .outerjoin(User, User.id == McpToken.created_by_id)
    .outerjoin(
        Membership,
        and_(
            Membership.user_id == McpToken.created_by_id,
            Membership.workspace_id == McpToken.workspace_id,
        ),
    )
    .where(McpToken.token_hash == bindparam("token_hash"))
)


# Other bearer values that open the MCP server, by prefix: deskwoot/oauth/grants.py registers
# its access tokens (`dw_oat_`), whose grant is a token row of kind "oauth" (issue 16).
MCP_LOOKUPS: dict[str, Callable[[str], LiveToken | None]] = {}


def lookup(plaintext: str | None, kind: str = "mcp") -> LiveToken | None:
    """The gate's per-request check: the live token of `kind` and its workspace, or None. A
    token of the other kind is as unknown as a made-up one: each opens only its own surface.

    Plain columns instead of ORM objects (this runs on every agent request), read from the
    database every time so a revocation or downgrade applies on the next call on every worker.
    """
    if kind == "mcp" and isinstance(plaintext, str) and plaintext[: len(PREFIX)] in MCP_LOOKUPS:
        return MCP_LOOKUPS[plaintext[: len(PREFIX)]](plaintext)
    if not plaintext or not well_formed(plaintext, kind):
        return None
    row = _LOOKUP.first_alone({"token_hash": digest(plaintext)})
    if row is None or row.revoked_at is not None or row.kind != kind:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    workspace = SimpleNamespace(
        id=row.workspace_id,
        slug=row.slug,
        plan=row.plan,
        trial_ends_at=row.trial_ends_at,
        mcp_enabled=row.mcp_enabled,
        bot_user_id=row.bot_user_id,
    )
    suspended = not policy.minter_stands_behind(
        row.created_by_id, row.creator_active, row.creator_role
    )
    return LiveToken(
        row.id,
        row.kind,
        row.name,
        row.scopes,
        row.inbox_ids,
        row.last_used_at,
        row.rate_tat,
        suspended,
        workspace,
    )


def needs_touch(token: McpToken) -> bool:
    """Whether last_used_at is due: at most one write a minute per token, however busy."""
    return token.last_used_at is None or utcnow() - token.last_used_at >= LAST_USED_EVERY


def touch(token: McpToken) -> None:
    """Record use (call inside a write transaction when needs_touch says so)."""
    now = utcnow()
    db.session.execute(
        update(McpToken)
        .where(McpToken.id == token.id)
        .where((McpToken.last_used_at.is_(None)) | (McpToken.last_used_at < now - LAST_USED_EVERY))
        .values(last_used_at=now)
    )


@dataclass(frozen=True)
class Identity:
    """What an actor is and may do (MCP whoami): its workspace and plan, its scopes and
    inbox restriction, and the inboxes it can work."""

    workspace: Workspace
    token_id: int | None
    name: str
    scopes: list[str]
    inbox_ids: list[int] | None  # None: every inbox
    inboxes: list[Inbox]
    on_trial: bool
    trial_days_left: int | None  # only on a trial
    mcp_available: bool


def whoami(actor: Actor) -> Identity:
    """Describe `actor` as the workspace and policy see it now."""
    ws = db.session.get(Workspace, actor.workspace_id)
    on_trial = ws.plan == "trial"
    return Identity(
        workspace=ws,
        token_id=actor.token_id,
        name=actor.name,
        scopes=sorted(actor.scopes or ()),
        inbox_ids=sorted(actor.inbox_ids) if actor.inbox_ids is not None else None,
        inboxes=inboxes.list_inboxes(actor),
        on_trial=on_trial,
        trial_days_left=workspaces.trial_days_left(ws) if on_trial else None,
        mcp_available=policy.mcp_lock_reason(ws) is None,
    )
