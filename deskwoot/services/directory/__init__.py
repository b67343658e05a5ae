"""Who and where: workspaces and the people in them, invitations, inboxes, contacts."""
