"""The delivery worker: takes outgoing messages from the outbox to their channels.

worker.py is the loop (`deskwoot worker`), claims.py claims and releases outbox rows under a
lease, backoff.py is the retry schedule. The channels themselves live in deskwoot/channels/
(one module per channel, see channels/outcomes.py); recording an outcome is a service step
(services/conversations/delivery.py). README "Delivery" says how to run it.
"""
