"""Channels: how customer messages reach Deskwoot and how replies leave it.

Today: the API inbox's inbound hook (api_hook), a JSON endpoint an integration posts customer
messages to. Each channel is an adapter over services/conversations/inbound.py.
"""
