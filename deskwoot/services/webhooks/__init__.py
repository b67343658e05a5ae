"""Event webhooks: the events feed POSTed to URLs a workspace's admins subscribe (README
"Event webhooks", ARCHITECTURE §12).

endpoints.py is Settings → Webhooks (create, edit, rotate the secret, disable, enable,
delete; admins only, audited). fanout.py is the worker's step that turns new feed events into
deliveries, each an outbox row of channel "event". deliveries.py loads one for the channel
(channels/event_webhook.py), records what the receiver answered (and disables the endpoint
after a run of failures or a 410 Gone), and serves the log, Redeliver and Send test event.
"""

EVENT_CHANNEL = "event"
TEST_EVENT_TYPE = "webhook.test"
