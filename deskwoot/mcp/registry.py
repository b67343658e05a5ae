"""The tool registry: every MCP tool, its scope, schemas and annotations (DESIGN §5.5).

Tools register in a fixed order, so `tools/list` is stable. A token sees exactly the tools its
scopes allow; no destructive, settings, billing, broadcast, webhook or export tool exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import mcp.types as T

from deskwoot.policy import Actor

Handler = Callable[["ToolContext", dict], dict]


@dataclass
class ToolContext:
    actor: Actor
    tool: ToolSpec


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    scope: str | None  # None: any valid token
    input_schema: dict
    output_schema: dict
    handler: Handler
    read_only: bool
    idempotent: bool
    open_world: bool  # true only where a customer receives something
    idempotency: str = "none"  # "required" | "optional" | "none"
    # Arguments that name an object, and what kind (for isolation tests and audit targets).
    id_args: dict = field(default_factory=dict)

    def as_tool(self) -> T.Tool:
        return T.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.input_schema,
            output_schema=self.output_schema,
            annotations=T.ToolAnnotations(
                title=self.title,
                read_only_hint=self.read_only,
                destructive_hint=False,
                idempotent_hint=self.idempotent,
                open_world_hint=self.open_world,
            ),
        )


REGISTRY: dict[str, ToolSpec] = {}


def tool(
    name: str,
    *,
    title: str,
    scope: str | None,
    description: str,
    input_schema: dict,
    output_schema: dict,
    read_only: bool,
    idempotent: bool | None = None,
    open_world: bool = False,
    idempotency: str = "none",
    id_args: dict | None = None,
) -> Callable[[Handler], Handler]:
    """Register a tool handler."""

    def register(handler: Handler) -> Handler:
        if name in REGISTRY:
            raise RuntimeError(f"tool {name} registered twice")
        REGISTRY[name] = ToolSpec(
            name=name,
            title=title,
            description=description,
            scope=scope,
            input_schema=input_schema,
            output_schema=output_schema,
            handler=handler,
            read_only=read_only,
            idempotent=read_only if idempotent is None else idempotent,
            open_world=open_world,
            idempotency=idempotency,
            id_args=id_args or {},
        )
        return handler

    return register


def allowed(spec: ToolSpec, scopes: frozenset[str] | None) -> bool:
    return spec.scope is None or scopes is None or spec.scope in scopes


def visible(scopes: frozenset[str] | None) -> list[ToolSpec]:
    load()
    return [spec for spec in REGISTRY.values() if allowed(spec, scopes)]


def get(name: str) -> ToolSpec | None:
    load()
    return REGISTRY.get(name)


def load() -> None:
    """Import the tool modules once (they register themselves), then fix the order."""
    if _loaded:
        return
    from deskwoot.mcp.tools import TOOL_ORDER

    if set(TOOL_ORDER) != set(REGISTRY):
        raise RuntimeError("TOOL_ORDER and the registered tools differ")
    ordered = {name: REGISTRY[name] for name in TOOL_ORDER}
    REGISTRY.clear()
    REGISTRY.update(ordered)
    _loaded.append(True)


_loaded: list[bool] = []
