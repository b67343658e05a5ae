"""A draft card's markup (web/draft_cards.py's DraftCard), rendered in Python.

The drafts queue shows 25 cards of ~90 lines each, with a four-message thread excerpt and
three review forms; as a Jinja include each card cost ~0.2 ms (a context per include, a
runtime call per helper, an escape per `{{ }}`). Here each part of a card is an f-string
filled with escaped values, with exactly the markup the include wrote (the tests
render both and compare them: tests/web/test_draft_card_html.py). Every body is customer or
bot text and goes through `escape`, as autoescaping did; the page's CSS shows bodies with
white-space: pre-wrap. The excerpt's who-and-when lines are cached by what they show
(`_message_head` is a pure function of it): nothing cached can be stale.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from markupsafe import Markup, escape

from deskwoot.services.activity import actor_names as naming
from deskwoot.services.conversations.drafts import ContextMessage
from deskwoot.web.components import actor_label, time_element, when
from deskwoot.web.draft_cards import DraftCard
from deskwoot.web.filters import ago, id_url

# Context-message heads kept per worker, by content (_message_head): ~400 bytes each. The
# bodies are not cached (a customer's message may be long); escaping them is cheap.
MESSAGE_HEADS_CACHED = 4096


def _context_message(m: ContextMessage, contact_name: str | None) -> str:
    """One message of the thread excerpt."""
    at = m.created_at
    if m.kind == "activity":
        return (
            f'            <li class="ctx ctx-activity"><span>{escape(m.body)}</span>'
            f" &middot; {time_element(at, ago(at))}</li>\n"
        )
    who = naming.of_context_message(m, contact_name)
    head = _message_head(m.kind, m.sender_type, who, m.approved_by_name, at, ago(at))
    return f"""{head}              <div class="ctx-body">{escape(m.body)}</div>
            </li>
"""


@lru_cache(maxsize=MESSAGE_HEADS_CACHED)
def _message_head(
    kind: str,
    sender_type: str,
    who: naming.ActorName,
    approved_by: str | None,
    at: datetime,
    at_ago: str,
) -> str:
    """A context message's line of who and when: a pure function of its arguments, so cached
    by them (the queue shows the same threads to every reviewer, again and again)."""
    badge = ""
    if kind == "note":
        badge = '                  <span class="badge badge-note">Private note</span>\n'
    elif sender_type == "contact":
        badge = '                  <span class="badge badge-customer">Customer</span>\n'
    approved = ""
    if approved_by:
        approved = f'<span class="muted">approved by {escape(approved_by)}</span>'
    replied = ""
    if kind == "outgoing" and sender_type == "user":
        replied = '<span class="muted">replied</span>'
    return f"""\
            <li class="ctx ctx-{escape(kind)} from-{escape(sender_type)}">
              <p class="ctx-head">
{badge}                {actor_label(who, "ctx-who")}
{approved}{replied}                {time_element(at, at_ago)}
              </p>
"""


def _head(card: DraftCard) -> str:
    """The conversation's title and the end of its thread (the queue only)."""
    dc = card.conversation
    draft_id = card.draft.id
    contact = dc.contact.display_name
    url = id_url("conversations.show", display_id=dc.display_id)
    messages = "".join(_context_message(m, contact) for m in card.messages)
    if not messages:
        messages = '          <li class="ctx ctx-activity">No messages yet.</li>\n'
    earlier = ""
    if card.earlier:
        earlier = (
            f'        <p class="draft-earlier"><a href="{url}">'
            "Earlier messages in the conversation</a></p>\n"
        )
    human = '<span class="badge badge-human">Human</span>' if dc.handoff else ""
    display_id = escape(dc.display_id)
    return f"""\
    <header class="draft-head">
      <h2 class="draft-title" id="draft-{draft_id}-title">
        <a href="{url}" data-testid="draft-conversation"><span class="conv-id">#{display_id}</span> {escape(dc.subject or contact)}</a>
      </h2>
      <p class="draft-meta">
        <span class="meta-item">{escape(contact)}</span>
        <span class="meta-item">{escape(dc.inbox.name)}</span>
{human}      </p>
    </header>

    <section class="draft-context" aria-label="Latest messages in #{display_id}">
{earlier}      <ol class="ctx-list">
{messages}      </ol>
    </section>
"""  # noqa: E501 - the markup as the page has it


def _proposal(card: DraftCard, inline: bool) -> str:
    """The draft itself, who wrote it and when, and why it may be stale."""
    d = card.draft
    title = stale_badge = stale = note = ""
    if inline:
        title = f'<strong id="draft-{d.id}-title">Draft reply waiting for approval</strong>'
    if card.stale_reason:
        stale_badge = (
            '<span class="badge badge-stale" data-testid="stale-badge">Possibly stale</span>'
        )
        stale = (
            f'      <p class="draft-stale" data-testid="stale-reason">{escape(card.stale_reason)}'
            " Read the latest messages before approving.</p>\n"
        )
    if d.note_to_reviewer:
        note = (
            '      <p class="draft-note"><span class="draft-note-label">Note from the bot:</span>'
            f' <span class="pre">{escape(d.note_to_reviewer)}</span></p>\n'
        )
    return f"""
  <section class="draft-proposal" aria-label="Draft reply">
    <p class="draft-by">
{title}      <span class="draft-author">{actor_label(naming.of_draft(d), "draft-bot")}</span>
      <span class="muted">drafted {when(d.created_at)}</span>
{stale_badge}    </p>
{stale}    <div class="draft-body" data-testid="draft-body">{escape(d.body)}</div>
{note}  </section>
"""


def _actions(card: DraftCard, next_url: str | None, csrf: str) -> str:
    """The three review forms: approve, edit then approve, reject."""
    draft_id = card.draft.id
    approve = id_url("drafts.approve", draft_id=draft_id)
    reject = id_url("drafts.reject", draft_id=draft_id)
    csrf = escape(csrf)
    hidden = f'<input type="hidden" name="next" value="{escape(next_url)}">' if next_url else ""
    contact = escape(card.conversation.contact.display_name)
    edit_open = "open" if card.open_panel == "edit" else ""
    reject_open = "open" if card.open_panel == "reject" else ""
    edit_error_id = edit_invalid = reject_error_id = reject_invalid = ""
    if card.edit_errors:
        edit_error_id = f" draft-{draft_id}-body-error"
        edit_invalid = 'aria-invalid="true"'
    if card.reject_errors:
        reject_error_id = f" draft-{draft_id}-reason-error"
        reject_invalid = 'aria-invalid="true"'
    edit_errors = _errors(card.edit_errors, draft_id, "body")
    reject_errors = _errors(card.reject_errors, draft_id, "reason")
    return f"""
  <div class="draft-actions">
    <form method="post" action="{approve}" class="draft-approve">
      <input type="hidden" name="csrf_token" value="{csrf}">
{hidden}      <button type="submit" class="btn btn-success" data-testid="approve">Approve and send</button>
    </form>

    <details class="draft-panel draft-panel-edit" data-panel {edit_open}>
      <summary class="btn" data-testid="edit-toggle">Edit then approve</summary>
      <form method="post" action="{approve}" class="draft-form">
        <input type="hidden" name="csrf_token" value="{csrf}">
{hidden}        <label class="field-label" for="draft-{draft_id}-body">Reply to send to {contact}</label>
        <textarea id="draft-{draft_id}-body" name="body" rows="6" class="input" data-submit-shortcut
                  aria-describedby="draft-{draft_id}-body-hint{edit_error_id}"
{edit_invalid}>{escape(card.edit_text)}</textarea>
        <p class="hint" id="draft-{draft_id}-body-hint">Your version is sent; the bot&rsquo;s original is kept so it can learn from the edit.</p>
{edit_errors}        <div class="draft-form-foot">
          <button type="submit" class="btn btn-primary" data-testid="send-edited">Send edited reply</button>
        </div>
      </form>
    </details>

    <details class="draft-panel draft-panel-reject" data-panel {reject_open}>
      <summary class="btn btn-danger" data-testid="reject-toggle">Reject</summary>
      <form method="post" action="{reject}" class="draft-form">
        <input type="hidden" name="csrf_token" value="{csrf}">
{hidden}        <label class="field-label" for="draft-{draft_id}-reason">Why reject it? <span class="muted">(required)</span></label>
        <textarea id="draft-{draft_id}-reason" name="reason" rows="3" class="input" required data-submit-shortcut
                  aria-describedby="draft-{draft_id}-reason-hint{reject_error_id}"
{reject_invalid}                  placeholder="e.g. Wrong refund policy: orders over 30 days get store credit.">{escape(card.reject_text)}</textarea>
        <p class="hint" id="draft-{draft_id}-reason-hint">The bot reads this. Nothing is sent to the customer.</p>
{reject_errors}        <div class="draft-form-foot">
          <button type="submit" class="btn btn-danger" data-testid="confirm-reject">Reject draft</button>
        </div>
      </form>
    </details>
  </div>
</article>"""  # noqa: E501 - the markup as the page has it


def _errors(errors, draft_id: int, field: str) -> str:
    if not errors:
        return ""
    joined = Markup(" ").join(errors)  # as Jinja's |join(' ') escapes each error
    return f'<p class="field-error" id="draft-{draft_id}-{field}-error">{joined}</p>'


def draft_card(card: DraftCard, inline: bool, next_url: str | None, csrf: str) -> Markup:
    """One card: `inline` on a conversation's page (no thread excerpt), `next_url` where its
    forms return to, `csrf` the session's CSRF token (the same in every form)."""
    draft_id = card.draft.id
    classes = (" is-stale" if card.stale_reason else "") + (" draft-card-inline" if inline else "")
    opening = (
        f'<article class="card draft-card{classes}" id="draft-{draft_id}"\n'
        f'         aria-labelledby="draft-{draft_id}-title" data-testid="draft-card"'
        f' data-draft-id="{draft_id}">\n'
    )
    head = "" if inline else _head(card)
    # Markup: every value above is escaped, or built (escaped) by components.py.
    return Markup(  # noqa: S704
        opening + head + _proposal(card, inline) + _actions(card, next_url, csrf)
    )


def draft_cards(cards: list[DraftCard], inline: bool, next_url: str | None, csrf: str) -> list:
    """Every card of a page, as drafts/index.html and conversations/show.html list them."""
    return [draft_card(card, inline, next_url, csrf) for card in cards]
