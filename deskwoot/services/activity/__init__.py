"""What happened: the events feed (written and read), the audit trail (written and
searched), the idempotency keys that keep a retried write from happening twice, and the one
rule for naming who did what."""
