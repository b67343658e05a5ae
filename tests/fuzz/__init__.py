"""Property-based fuzzing of the two machine endpoints, /api/mcp and the inbound hook."""
