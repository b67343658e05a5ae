"""Delivery as service steps (ARCHITECTURE §12): leasing outbox rows and mailboxes to one
worker (claims, leases, mailbox_polls), loading a claimed row for its channel and recording the
outcome (outbox), a teammate's Retry (redelivery) and bounces that fail a sent message
(bounces). The worker that loops over them is deskwoot/delivery/; the channels it calls are
deskwoot/channels/."""
