"""Who may act: MCP bot tokens, web logins and passwords, per-token rate limits, and the
MCP switch."""
