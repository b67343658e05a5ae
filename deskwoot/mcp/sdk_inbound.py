"""The SDK's inbound request ladder (mcp.shared.inbound), loaded without the rest of the SDK.

mcp.shared.inbound is pure protocol logic (it imports only mcp_types), but it lives inside
the `mcp` package, whose __init__ imports the SDK's whole client and server stack (starlette,
uvicorn, anyio, httpx, OpenTelemetry): about 25 MB in every gunicorn worker that Deskwoot
never runs. So the one file is loaded by path, under a private module name. If a future SDK
makes it import from `mcp` itself, that import loads the package as before: the only cost is
the memory this saves."""

from __future__ import annotations

import importlib.util
import sys
from importlib.metadata import distribution

_NAME = "deskwoot_mcp_sdk_inbound"


def _load():
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    path = distribution("mcp").locate_file("mcp/shared/inbound.py")
    spec = importlib.util.spec_from_file_location(_NAME, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module  # before executing: dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


_inbound = _load()

ERROR_CODE_HTTP_STATUS = _inbound.ERROR_CODE_HTTP_STATUS
InboundLadderRejection = _inbound.InboundLadderRejection
classify_inbound_request = _inbound.classify_inbound_request
unsupported_protocol_version_rejection = _inbound.unsupported_protocol_version_rejection
