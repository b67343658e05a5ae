"""The delivery worker: takes outgoing messages from the outbox to their channels.

worker.py is the loop (`deskwoot worker`), backoff.py the retry schedule. Claiming outbox rows
under a lease (services/delivery/claims.py) and recording an outcome
(services/delivery/outbox.py) are service steps; the channels live in deskwoot/channels/
(one module per channel, see channels/outcomes.py). README "Delivery" says how to run it.
"""
