"""Entry point for gunicorn: `gunicorn wsgi:app`."""

from deskwoot import create_app

app = create_app()
