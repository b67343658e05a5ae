"""Business actions. Each takes plain arguments and an Actor, owns its transaction and
appends its events (and audit rows) inside it. Web views, MCP tools and CLI commands call
these and nothing else (ARCHITECTURE §1).

Grouped by concept:
- conversations/  the queue: conversations and their workflow, messages, drafts, labels,
                  search, the reads agents and pages make, customer messages arriving
- directory/      who and where: workspaces and their teams, invitations, inboxes, contacts
- access/         who may act: bot tokens, logins and passwords, rate limits, the MCP switch
- activity/       what happened: events and the feed, the audit trail, idempotency keys,
                  how actors are named
- operations/     running the installation: the demo workspace, pruning, outgoing mail
- validation.py   small input checks every group shares
"""
