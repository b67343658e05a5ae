"""The settings blueprint, apart from its views so that every view module can import it: the
package's modules import this, and the app factory imports them all before registering it.

To anyone who is not an admin these pages do not exist (404), as policy.require_admin says.
"""

from __future__ import annotations

from flask import g

from deskwoot import policy
from deskwoot.errors import Conflict, Forbidden, Invalid
from deskwoot.web.common import workspace_blueprint

bp = workspace_blueprint("settings", "deskwoot.web.settings", "/settings")

# The service refusals a settings form shows next to its field.
REFUSALS = (Invalid, Conflict, Forbidden)


@bp.before_request
def _admins_only() -> None:
    policy.require_admin(g.actor)
