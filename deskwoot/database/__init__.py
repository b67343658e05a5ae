"""The database layer: the engine and its connection hooks (engine), units of work
(transactions), what happens when the database is unavailable (availability), prebuilt
statements for the hot paths (prebuilt) and schema migrations (migrate)."""
