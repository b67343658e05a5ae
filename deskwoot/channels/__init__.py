"""Channels: how customer messages reach Deskwoot and how replies leave it.

Today: the API inbox's inbound hook (api_hook), a JSON endpoint an integration posts customer
messages to, an adapter over services/conversations/inbound.py; and its outgoing side
(api_webhook), replies POSTed to the inbox's webhook by the delivery worker (deskwoot/delivery/)
behind the one interface in outcomes.py. event_webhook sends the events feed to the endpoints
of Settings → Webhooks; both webhook channels sign and send through signed_webhook.
"""
