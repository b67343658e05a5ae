"""Entry point for gunicorn: `gunicorn wsgi:app`."""

from deskwoot import create_app
from deskwoot.wsgi import refuse_unmigrated

app = create_app()
refuse_unmigrated(app)
