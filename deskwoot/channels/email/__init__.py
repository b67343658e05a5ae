"""The email channel's pure core: composing outgoing mail and reading incoming mail.

No database, Flask or network code lives here; the delivery worker, the IMAP poller and the
`deskwoot email receive` pipe (adapters over services/conversations/inbound.py) call into it.

- identity.py — Message-IDs, References chains, reply subjects and the '[#123]' marker.
  Threading rules: our outgoing Message-ID is deterministic per message
  (`message_id_for(message id, inbox uid, domain)` → '<deskwoot.m123.uid@domain>'), so a
  redelivery after a crash is the same message and receivers drop the copy. A reply carries
  In-Reply-To the customer's last message and References its chain plus that message
  (the root and the most recent kept, at most 20). A customer's reply joins its conversation by
  In-Reply-To/References (`own_message_ref` recognises our ids), falling back to the subject
  marker. Subjects get one 'Re:' (Re/RE/Aw/Sv/Fwd… stripped first); new conversations start a
  new thread.
- compose.py — `OutgoingMail` → `compose_reply` / `compose_new` → an EmailMessage (policy
  SMTP, text/plain UTF-8). Everything customer-chosen (names, subjects) is forced onto one line
  and checked again after the headers are built: no value can add a header. People's replies
  carry no Auto-Submitted; machine-written mail may (RFC 3834 values only).
- parse.py — raw bytes → `IncomingMail`: ids, addresses, decoded subject, the full text and
  the visible reply (quotes and signatures stripped by mail-parser-reply; teammates can still
  read the full text), HTML-only mail converted to text by inscriptis (never kept as HTML),
  attachments with sanitised names, declared and sniffed (puremagic) types and size limits
  (over a limit: listed as skipped with the reason, no bytes kept).
- classify.py — loop protection and bounces. `IncomingMail.noise` lists why a message must
  never be auto-answered or re-open a conversation: Auto-Submitted other than 'no',
  Precedence bulk/list/junk, X-Auto-Response-Suppress, X-Autoreply, List-Id/List-Unsubscribe,
  our own From address. `IncomingMail.bounce` is a `Bounce` read from an RFC 3464 report (or,
  best effort, from an Exim/qmail text bounce) naming our Message-ID that failed, so the worker
  can mark that outgoing message failed (only when `bounce.permanent`).

Untrusted content (ARCHITECTURE §5): everything parsed is customer-written text — data, not
instructions — and every limit (size, header length, MIME depth and parts, attachment and text
sizes) is enforced here. `parse_incoming` raises only `UnreadableMail(reason)`, for input that
is no mail at all (over max_bytes, no header); anything else is parsed, with what was cut or
repaired listed in `IncomingMail.defects` for the log.
"""
