"""The tool registry: every MCP tool, its scope, schemas and annotations (ARCHITECTURE §4).

The tool modules (deskwoot/mcp/tools) import this registry and register themselves; the
tools package then fixes their order with `fix_order`, so `tools/list` is stable. This module
never imports the tools: whoever serves them imports deskwoot.mcp.tools. A token sees
exactly the tools its scopes allow; no destructive, settings, billing, broadcast, webhook or
export tool exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import mcp_types as T

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
    # A read-only tool whose handler reads only through prebuilt statements and core(): it
    # runs on a connection of its own instead of the ORM session (prebuilt.read_alone).
    reads_alone: bool = False

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
    reads_alone: bool = False,
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
            reads_alone=reads_alone,
        )
        return handler

    return register


def allowed(spec: ToolSpec, scopes: frozenset[str] | None) -> bool:
    return spec.scope is None or scopes is None or spec.scope in scopes


def visible(scopes: frozenset[str] | None) -> list[ToolSpec]:
    _require_loaded()
    return [spec for spec in REGISTRY.values() if allowed(spec, scopes)]


def get(name: str) -> ToolSpec | None:
    _require_loaded()
    return REGISTRY.get(name)


def fix_order(order: tuple[str, ...]) -> None:
    """Put the registered tools in `order` (deskwoot.mcp.tools calls this once, after
    importing every tool module), which must name each of them exactly once."""
    if sorted(order) != sorted(REGISTRY):
        raise RuntimeError("TOOL_ORDER and the registered tools differ")
    ordered = {name: REGISTRY[name] for name in order}
    REGISTRY.clear()
    REGISTRY.update(ordered)
    _loaded.append(True)


def _require_loaded() -> None:
    if not _loaded:
        raise RuntimeError("the MCP tools are not loaded: import deskwoot.mcp.tools first")


_loaded: list[bool] = []
