"""Drive the official Python SDK's OAuth client against the live server, with the consent
clicked in the session's Chromium.

The SDK is async and Playwright's sync API must stay on the thread that started it, so the
client runs on a worker thread (its own event loop) and hands the authorization URL to the
test's thread, which drives the browser and hands back the redirect it landed on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

CALLBACK = "http://127.0.0.1:9/callback"  # never reached: the browser test intercepts it


class MemoryStorage:
    def __init__(self):
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


class Agent:
    """One OAuth client identity (its storage survives between connections)."""

    def __init__(self, base_url: str, name: str = "Test Agent (Python SDK)"):
        self.url = base_url + "/api/mcp"
        self.storage = MemoryStorage()
        self.metadata = OAuthClientMetadata(
            client_name=name,
            redirect_uris=[CALLBACK],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        )
        self.authorize_urls: queue.Queue[str] = queue.Queue()
        self.callbacks: queue.Queue[str] = queue.Queue()

    def provider(self) -> OAuthClientProvider:
        async def redirect(url: str) -> None:
            self.authorize_urls.put(url)

        async def callback() -> AuthorizationCodeResult:
            landed = await anyio.to_thread.run_sync(lambda: self.callbacks.get(timeout=60))
            query = parse_qs(urlsplit(landed).query)
            return AuthorizationCodeResult(
                code=query.get("code", [None])[0],
                state=query.get("state", [None])[0],
                iss=query.get("iss", [None])[0],
            )

        return OAuthClientProvider(self.url, self.metadata, self.storage, redirect, callback)

    def start(self, work: Callable[[Client], Awaitable]) -> Run:
        """Connect and run `work(client)` on a worker thread; returns the running call."""
        return Run(self, work)


class Run:
    def __init__(self, agent: Agent, work):
        self.agent = agent
        self.result = None
        self.error: BaseException | None = None

        async def main():
            async with (
                httpx2.AsyncClient(auth=agent.provider(), timeout=30) as http,
                Client(streamable_http_client(agent.url, http_client=http)) as client,
            ):
                return await work(client)

        def target():
            try:
                self.result = anyio.run(main)
            except BaseException as exc:  # handed to the test thread
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def authorize_url(self, timeout: float = 30) -> str:
        return self.agent.authorize_urls.get(timeout=timeout)

    def finish(self, timeout: float = 60):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the SDK client did not finish"
        if self.error is not None:
            raise self.error
        return self.result
