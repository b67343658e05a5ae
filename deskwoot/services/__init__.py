"""Business actions. Each takes plain arguments and an Actor, owns its transaction and
appends its events (and audit rows) inside it. Web views, MCP tools and CLI commands call
these and nothing else."""
