"""The errors services raise; adapters map them to HTML, JSON or a CLI line."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deskwoot.policy import Actor


class ServiceError(Exception):
    """Base class: `code` is stable for machines, the message is written for people and agents."""

    code = "error"

    def __init__(self, message: str, **data):
        super().__init__(message)
        self.message = message
        self.data = data


class NotFound(ServiceError):
    """The object does not exist or is outside the actor's reach (never says which)."""

    code = "not_found"


class Forbidden(ServiceError):
    """The actor may see the object but lacks the scope or role for this action."""

    code = "forbidden"


class Invalid(ServiceError):
    """The input is wrong; `field` names the offending field when there is one."""

    code = "invalid"

    def __init__(self, message: str, field: str | None = None, **data):
        super().__init__(message, **data)
        self.field = field


class Conflict(ServiceError):
    """The action collides with the current state (already handled, taken over, duplicate…)."""

    code = "conflict"


class Unauthorized(ServiceError):
    """No usable credential. `reason` is `invalid_token` (missing, malformed, unknown, revoked
    or expired: one answer for all, so nothing leaks to someone without a working token) or
    `token_suspended` (a real token whose minter no longer stands behind it)."""

    code = "unauthorized"

    def __init__(self, message: str, reason: str = "invalid_token", **data):
        super().__init__(message, **data)
        self.reason = reason


class Locked(ServiceError):
    """The credential is good but its workspace may not use the feature now: `reason` is
    `plan_required`, `trial_expired` or the feature's switch (`mcp_disabled`). `actor` is the
    token's, so a surface can name who was refused without looking the token up again."""

    code = "locked"

    def __init__(self, message: str, reason: str, actor: Actor, **data):
        super().__init__(message, **data)
        self.reason = reason
        self.actor = actor
