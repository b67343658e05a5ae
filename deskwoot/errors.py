"""The errors services raise; adapters map them to HTML, JSON or a CLI line."""


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
