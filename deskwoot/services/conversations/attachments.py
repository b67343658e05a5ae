"""Files that come with messages: an email's attachments, a teammate's reply uploads.

The bytes are stored once per content (named by their SHA-256) under ATTACHMENTS_DIR, which
defaults to `instance/attachments/` — outside the web root and outside `static/`, so nothing
serves them but the download view, which checks the conversation's reach
(policy.get_attachment) and always answers `Content-Disposition: attachment` with a type
that no browser renders as a page (`download_type`). Rows record what people see: the
sanitised name, the type, the size, and for a refused file why it was refused (`skipped`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import bindparam, select

from deskwoot.database.prebuilt import Prebuilt
from deskwoot.errors import Invalid, NotFound
from deskwoot.models import Attachment, Message
from deskwoot.policy import Actor, get_attachment

# Types a browser would run or render as a document if it ever displayed them inline: they
# are downloaded as application/octet-stream whatever they claim to be.
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "text/css",
        "application/pdf",  # PDF viewers run scripts; download it instead
    }
)


@dataclass(frozen=True, slots=True)
class AttachmentRow:
    """What a teammate or an agent sees of an attachment."""

    id: int
    message_id: int
    filename: str
    content_type: str
    size: int
    skipped: str | None  # why no bytes were kept; None when it can be downloaded


def storage_root() -> Path:
    configured = current_app.config.get("ATTACHMENTS_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "attachments"


def _path_for(sha256: str) -> Path:
    return storage_root() / sha256[:2] / sha256


def _write_once(data: bytes) -> str:
    """Store the bytes under their digest (atomically: a crash leaves no half file under the
    final name); their digest."""
    digest = hashlib.sha256(data).hexdigest()
    target = _path_for(digest)
    if target.exists():
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest


def max_bytes() -> int:
    return int(current_app.config["ATTACHMENT_MAX_BYTES"])


def add(
    session,
    message: Message,
    filename: str,
    content_type: str,
    data: bytes,
    *,
    content_id: str | None = None,
    skipped: str | None = None,
    size: int | None = None,
) -> Attachment:
    """Attach a file to `message` inside the caller's write transaction. With `skipped`, only
    the row is kept (a file refused by a limit, listed so people know it existed)."""
    digest = None if skipped else _write_once(data)
    attachment = Attachment(
        workspace_id=message.workspace_id,
        message_id=message.id,
        filename=(filename or "attachment")[:200],
        content_type=(content_type or "application/octet-stream")[:100],
        size=len(data) if size is None else size,
        sha256=digest,
        content_id=content_id[:255] if content_id else None,
        skipped=skipped[:200] if skipped else None,
    )
    session.add(attachment)
    return attachment


@dataclass(frozen=True)
class Upload:
    """A file a teammate attaches to a reply, before it is stored."""

    filename: str
    content_type: str
    data: bytes


def check_uploads(uploads: list[Upload]) -> list[Upload]:
    """Refuse (Invalid, field 'attachments') a reply's files over the size limits."""
    limit = max_bytes()
    total = 0
    for upload in uploads:
        if len(upload.data) > limit:
            raise Invalid(
                f"{upload.filename} is larger than {limit // (1024 * 1024)} MB.",
                field="attachments",
            )
        total += len(upload.data)
    if total > int(current_app.config["ATTACHMENT_MAX_TOTAL_BYTES"]):
        raise Invalid("The attachments together are too large.", field="attachments")
    return uploads


def rows_for(message_ids: list[int]) -> dict[int, list[AttachmentRow]]:
    """The attachments of these messages, by message id (messages without any are absent)."""
    if not message_ids:
        return {}
    found: dict[int, list[AttachmentRow]] = {}
    for row in _ROWS_FOR.rows({"ids": message_ids}):
        found.setdefault(row.message_id, []).append(AttachmentRow(*row))
    return found


# A prebuilt statement (database/prebuilt.py): every agent read of a thread runs it, and
# through the ORM it cost more than the rest of the thread's reads together.
_ROWS_FOR = Prebuilt(
    select(
        Attachment.id,
        Attachment.message_id,
        Attachment.filename,
        Attachment.content_type,
        Attachment.size,
        Attachment.skipped,
    )
    .where(Attachment.message_id.in_(bindparam("ids", expanding=True)))
    .order_by(Attachment.id)
)


def download_type(content_type: str) -> str:
    """The Content-Type a download is served with: never one a browser would render or run."""
    base = (content_type or "").split(";")[0].strip().lower()
    if not base or base in ACTIVE_TYPES or "/" not in base:
        return "application/octet-stream"
    return base


def open_for_download(actor: Actor, attachment_id: int) -> tuple[Attachment, Path]:
    """The attachment and the path of its bytes, if the actor can see its conversation;
    NotFound otherwise, and for a skipped file (there are no bytes)."""
    attachment = get_attachment(actor, attachment_id)
    if attachment.sha256 is None:
        raise NotFound(f"Attachment {attachment_id} was not kept: {attachment.skipped}.")
    path = _path_for(attachment.sha256)
    if not path.exists():
        raise NotFound(f"Attachment {attachment_id} is missing from the attachment store.")
    return attachment, path


def bytes_of(attachment: Attachment) -> bytes:
    """The stored bytes (for the worker attaching a reply's files to an email)."""
    return _path_for(attachment.sha256).read_bytes()
