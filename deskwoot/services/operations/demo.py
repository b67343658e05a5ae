"""The demo workspace: a small support team with a lived-in queue (`deskwoot demo seed`).

Everything is created through the same services the web and MCP adapters use, so the demo
data carries the same events and invariants as real traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from deskwoot import policy
from deskwoot.database.transactions import write_transaction
from deskwoot.errors import NotFound
from deskwoot.models import utcnow
from deskwoot.policy import Actor
from deskwoot.services.conversations import inbound, labels
from deskwoot.services.conversations import workflow as conversations
from deskwoot.services.directory import contacts, inboxes, workspaces

SLUG = "demo"
NAME = "Shiftly (demo)"
ADMIN_EMAIL = "admin@demo.deskwoot.test"
AGENT_EMAIL = "agent@demo.deskwoot.test"
# Printed to whoever seeds the demo; it protects nothing worth protecting.
PASSWORD = "deskwoot-demo"  # noqa: S105

INBOXES = ("Support", "Billing", "Sales")
AGENT_INBOXES = ("Support", "Billing")  # the agent does not work Sales: shows inbox scoping

LABELS = {
    "bug": "#dc2626",
    "feature-request": "#7c3aed",
    "refund": "#d97706",
    "vip": "#ca8a04",
    "onboarding": "#2563eb",
    "integration": "#0891b2",
}

CONTACTS = [
    (
        "Maria Keller",
        "maria@harborbakery.example",
        "+49 30 5557 1201",
        {"company": "Harbor Bakery", "plan": "Pro", "seats": 14, "country": "DE"},
    ),
    (
        "James Okafor",
        "james.okafor@brightsmiles.example",
        "+44 20 7946 0321",
        {"company": "Bright Smiles Dental", "plan": "Business", "seats": 32, "country": "GB"},
    ),
    (
        "Lucía Fernández",
        "lucia@cafeolivo.example",
        None,
        {"company": "Café Olivo", "plan": "Pro", "seats": 6, "country": "ES"},
    ),
    (
        "Tom Becker",
        "tom@beckerlogistics.example",
        "+49 40 5550 8870",
        {"company": "Becker Logistics", "plan": "Business", "seats": 85, "country": "DE"},
    ),
    (
        "Aisha Rahman",
        "aisha.rahman@greenleafclinic.example",
        None,
        {"company": "Greenleaf Clinic", "plan": "Pro", "seats": 22, "country": "IE"},
    ),
    (
        "Chen Wei",
        "chen@pixelforge.example",
        None,
        {"company": "PixelForge Studio", "plan": "Trial", "seats": 9, "country": "SG"},
    ),
    (
        "Olivia Brown",
        "olivia@brownandco.example",
        "+1 415 555 0142",
        {"company": "Brown & Co Retail", "plan": "Pro", "seats": 40, "country": "US"},
    ),
    (
        "Noah Schmidt",
        "noah@alpinegym.example",
        None,
        {"company": "Alpine Gym", "plan": "Starter", "seats": 5, "country": "AT"},
    ),
    (
        "Emma Dubois",
        "emma@lepetitbistro.example",
        "+33 1 55 55 01 77",
        {"company": "Le Petit Bistro", "plan": "Pro", "seats": 11, "country": "FR"},
    ),
    (
        "Raj Patel",
        "raj@sunrisehotels.example",
        "+1 212 555 0199",
        {"company": "Sunrise Hotels", "plan": "Prospect", "seats": 400, "lead_source": "webinar"},
    ),
    (
        "Sofia Rossi",
        "sofia@trattoriaroma.example",
        None,
        {"company": "Trattoria Roma", "plan": "Starter", "seats": 8, "nonprofit": False},
    ),
    (
        "Daniel Kim",
        "daniel@northpeakit.example",
        "+1 604 555 0110",
        {"company": "NorthPeak IT", "plan": "Business", "seats": 120, "country": "CA"},
    ),
]

CONTACT_NOTES = {
    "raj@sunrisehotels.example": "Met at the March webinar. Decision maker is the COO; "
    "Raj runs the evaluation.",
    "tom@beckerlogistics.example": "Prefers email over phone. Invoices go to accounts payable, "
    "Tom forwards them.",
}


@dataclass(frozen=True)
class Thread:
    """One demo conversation: who wrote what, then where it stands now."""

    inbox: str
    email: str
    subject: str
    messages: list[tuple[str, str]]  # (who, body); who: customer, sam, alex, note:sam, note:alex
    hours_ago: float
    status: str = "open"
    priority: str = "none"
    labels: tuple[str, ...] = ()
    assignee: str | None = None  # "sam" or "alex"
    # A teammate's reply takes a conversation over from the bot (conversations.reply). The
    # demo hands most back afterwards, so a freshly connected agent has a queue to work;
    # only threads a person is deliberately keeping stay taken over.
    taken_over: bool = False


THREADS = [
    Thread(
        "Support",
        "james.okafor@brightsmiles.example",
        "Export timesheets to CSV",
        [
            (
                "customer",
                "Hi! Is there a way to export last month's timesheets as a CSV for our "
                "payroll provider?",
            ),
            (
                "sam",
                "Hi James, yes: open Timesheets, pick the date range, then Export > CSV. The "
                "file has one row per shift with hours and breaks.",
            ),
            ("customer", "Found it, thank you!"),
        ],
        hours_ago=120,
        status="resolved",
        priority="low",
        assignee="sam",
    ),
    Thread(
        "Billing",
        "lucia@cafeolivo.example",
        "Downgrade from Pro to Starter",
        [
            (
                "customer",
                "We are a small café and don't use the Pro features. Can we move to "
                "Starter from next month?",
            ),
            (
                "sam",
                "Of course, Lucía. I've scheduled the change for your next renewal on the 1st; "
                "you keep Pro until then.",
            ),
            ("customer", "Perfect, gracias."),
        ],
        hours_ago=96,
        status="resolved",
        assignee="sam",
    ),
    Thread(
        "Sales",
        "chen@pixelforge.example",
        "Can we extend our trial?",
        [
            (
                "customer",
                "Our trial ends on Friday but half the team was away this week. Could "
                "we get a few more days?",
            ),
            (
                "alex",
                "Hi Chen, I've extended your trial by 7 days. Let me know if you'd like a "
                "quick walkthrough call.",
            ),
        ],
        hours_ago=80,
        status="resolved",
        labels=("onboarding",),
        assignee="alex",
    ),
    Thread(
        "Billing",
        "james.okafor@brightsmiles.example",
        "Annual billing discount?",
        [
            ("customer", "Do you offer a discount if we pay yearly instead of monthly?"),
            (
                "sam",
                "We do: annual billing is two months free. I can switch you at your next "
                "renewal if you like.",
            ),
            ("customer", "Yes please, switch us."),
            ("sam", "Done! Your next invoice will be the annual one."),
        ],
        hours_ago=72,
        status="resolved",
        priority="low",
        assignee="sam",
    ),
    Thread(
        "Support",
        "lucia@cafeolivo.example",
        "How do I add a second location?",
        [
            (
                "customer",
                "We're opening a second café next month. How do I add it so I can "
                "schedule staff there?",
            ),
            (
                "sam",
                "Congratulations! Go to Settings > Locations > Add location. Each location "
                "gets its own schedule and you can share staff between them.",
            ),
            ("customer", "That was easy. Thanks Sam!"),
        ],
        hours_ago=60,
        status="resolved",
        labels=("onboarding",),
        assignee="sam",
    ),
    Thread(
        "Support",
        "noah@alpinegym.example",
        "Recurring shifts every other week",
        [
            (
                "customer",
                "Could you add recurring shifts every *other* week? Our trainers "
                "alternate weekends.",
            ),
            (
                "sam",
                "Great suggestion, Noah. Bi-weekly repeats are on our roadmap for next "
                "month; I'll check back with you when they ship.",
            ),
            ("note:sam", "Snoozed until the release notes are out. Product ticket: PROD-418."),
        ],
        hours_ago=50,
        status="snoozed",
        priority="low",
        labels=("feature-request",),
        assignee="sam",
        taken_over=True,  # Sam promised to check back himself
    ),
    Thread(
        "Support",
        "chen@pixelforge.example",
        "Google Calendar sync duplicates shifts",
        [
            (
                "customer",
                "Every shift shows up twice in our Google Calendars since we connected "
                "the integration.",
            ),
            (
                "sam",
                "Sorry about that! Could you disconnect and reconnect the calendar under "
                "Settings > Integrations and tell me if the duplicates stop?",
            ),
            ("note:sam", "Probably the old iCal feed is still subscribed next to the new sync."),
        ],
        hours_ago=30,
        status="pending",
        priority="medium",
        labels=("integration", "bug"),
        assignee="sam",
    ),
    Thread(
        "Billing",
        "tom@beckerlogistics.example",
        "Invoice shows the wrong VAT number",
        [
            (
                "customer",
                "Our March invoice has our old VAT ID (DE123456789). The correct one "
                "is DE987654321. Can you reissue it?",
            ),
            (
                "sam",
                "Hi Tom, I've updated the VAT ID on your account. I'm reissuing the March "
                "invoice now; could you confirm the billing address is still current?",
            ),
        ],
        hours_ago=26,
        status="pending",
        priority="medium",
        assignee="sam",
    ),
    Thread(
        "Sales",
        "sofia@trattoriaroma.example",
        "Discount for a family restaurant?",
        [
            (
                "customer",
                "We're a small family restaurant with 8 staff. Is there any discount "
                "for businesses our size?",
            ),
            (
                "alex",
                "Hi Sofia! Starter is our small-team plan and it's 20% off for the first "
                "year if you sign up this month. Shall I send you a link?",
            ),
        ],
        hours_ago=22,
        status="pending",
        assignee="alex",
    ),
    Thread(
        "Sales",
        "raj@sunrisehotels.example",
        "Pricing for 400 staff across 6 hotels",
        [
            (
                "customer",
                "We're evaluating scheduling tools for our 6 hotels (about 400 staff). "
                "What would Enterprise cost, and do you support SSO?",
            ),
            (
                "alex",
                "Thanks Raj! Yes, Enterprise includes SAML SSO and per-location admins. "
                "I'll put together a quote; could we do a 30-minute call this week?",
            ),
            ("customer", "Thursday 3pm EST works. Please include onboarding support in the quote."),
            ("note:alex", "Big one. Quote with 15% volume discount, onboarding package included."),
        ],
        hours_ago=20,
        priority="high",
        labels=("vip",),
        assignee="alex",
        taken_over=True,  # a 400-seat deal: Alex handles it personally
    ),
    Thread(
        "Support",
        "daniel@northpeakit.example",
        "API rate limits for our integration",
        [
            (
                "customer",
                "Our HR system syncs shifts through your API and we keep hitting 429s "
                "around 9am. What are the limits?",
            ),
            (
                "alex",
                "Hi Daniel, the default is 120 requests/minute per token. For a Business "
                "account your size we can raise it; how many calls do you make at peak?",
            ),
            ("customer", "Roughly 400/minute for about ten minutes every morning."),
        ],
        hours_ago=9,
        priority="medium",
        labels=("integration", "vip"),
        assignee="alex",
    ),
    Thread(
        "Billing",
        "olivia@brownandco.example",
        "Charged twice this month",
        [
            (
                "customer",
                "We were charged twice on the 3rd for the same amount ($480). Please "
                "refund the duplicate.",
            ),
            (
                "note:alex",
                "Confirmed in Stripe: duplicate charge from the retried webhook. Refund approved.",
            ),
            (
                "alex",
                "Hi Olivia, I'm so sorry. You're right, the second charge was our mistake. "
                "I've refunded $480; it should reach your card in 5-10 business days.",
            ),
            ("customer", "Thank you for the quick fix."),
        ],
        hours_ago=7,
        priority="high",
        labels=("refund", "vip"),
        assignee="alex",
    ),
    Thread(
        "Support",
        "maria@harborbakery.example",
        "Shift swaps missing in the mobile app",
        [
            (
                "customer",
                "Hi, since this morning my staff can't see shift swap requests in the "
                "mobile app. They do show on the desktop. Any idea?",
            ),
            (
                "sam",
                "Hi Maria, thanks for flagging this! Which app version is your team on? "
                "You'll find it under Settings > About.",
            ),
            ("customer", "Looks like 4.12.0 on Android."),
            (
                "note:sam",
                "Reproduced on 4.12.0 Android: the swap list filters by the wrong week. "
                "Filed ENG-2291.",
            ),
            (
                "sam",
                "We've reproduced it and our engineers are on it. I'll update you as soon as "
                "the fix ships. Swaps still work from the desktop in the meantime.",
            ),
        ],
        hours_ago=5,
        priority="high",
        labels=("bug",),
        assignee="sam",
    ),
    Thread(
        "Support",
        "olivia@brownandco.example",
        "Staff can't log in after password reset",
        [
            (
                "customer",
                "Three of my store managers reset their passwords and now can't log in "
                "at all. We open in an hour!",
            ),
            ("customer", "It says 'link expired' even for a fresh reset email."),
        ],
        hours_ago=3,
        priority="urgent",
        labels=("bug", "vip"),
    ),
    Thread(
        "Billing",
        "maria@harborbakery.example",
        "Update the card on file",
        [
            ("customer", "Our company card changed. Where do I update the payment method?"),
            (
                "sam",
                "Hi Maria, under Settings > Billing > Payment method. Only account owners "
                "see that page.",
            ),
        ],
        hours_ago=2.5,
        status="resolved",
        assignee="sam",
    ),
    Thread(
        "Support",
        "aisha.rahman@greenleafclinic.example",
        "Importing public holidays",
        [
            (
                "customer",
                "Can we import Irish public holidays so nobody gets scheduled on them by accident?",
            ),
        ],
        hours_ago=1.5,
        labels=("feature-request",),
    ),
    Thread(
        "Sales",
        "daniel@northpeakit.example",
        "Adding 20 more seats",
        [
            (
                "customer",
                "We're hiring 20 more technicians next month. Can we add seats mid-cycle "
                "and get a prorated invoice?",
            ),
        ],
        hours_ago=1,
        labels=("vip",),
    ),
    Thread(
        "Support",
        "emma@lepetitbistro.example",
        "Notifications in French?",
        [
            (
                "customer",
                "Bonjour ! Is it possible to get the shift notifications in French for "
                "our kitchen staff?",
            ),
        ],
        hours_ago=0.3,
    ),
]


@dataclass(frozen=True)
class DemoInfo:
    """What the operator needs to log in to the demo."""

    created: bool
    slug: str
    admin_email: str
    admin_password: str
    agent_email: str = AGENT_EMAIL
    conversations: int = len(THREADS)


def exists() -> bool:
    """Tell whether the demo workspace is present."""
    try:
        workspaces.get_by_slug(SLUG)
    except NotFound:
        return False
    return True


def seed_demo() -> DemoInfo:
    """Create the demo workspace unless it exists; all or nothing, in one transaction."""
    # The check runs inside the write transaction, so two seeders cannot both see "absent".
    with write_transaction():
        created = not exists()
        if created:
            _build()
    return DemoInfo(created, SLUG, ADMIN_EMAIL, PASSWORD)


def _build() -> None:
    ws, admin = workspaces.create_workspace(
        NAME, ADMIN_EMAIL, PASSWORD, admin_name="Alex Morgan", plan="trial", slug=SLUG
    )
    system = policy.system_actor(ws, name="Demo seed")
    agent = workspaces.add_teammate(
        system, AGENT_EMAIL, "agent", name="Sam Rivera", password=PASSWORD
    )
    by_name = {}
    for name in INBOXES:
        members = [admin.id, agent.id] if name in AGENT_INBOXES else [admin.id]
        by_name[name] = inboxes.create_inbox(system, name, member_ids=members)[0]
    for name, color in LABELS.items():
        labels.create_label(system, name, color)
    contact_ids = {}
    for name, email, phone, attributes in CONTACTS:
        contact = contacts.create_contact(
            system, name=name, email=email, phone=phone, custom_attributes=attributes
        )
        contact_ids[email] = contact.id
    team = {
        "alex": policy.member_actor(admin, ws, via="cli"),
        "sam": policy.member_actor(agent, ws, via="cli"),
    }
    for email, body in CONTACT_NOTES.items():
        contacts.add_note(team["alex"], contact_ids[email], body)
    # Oldest first, so display ids grow with age as they would in real life.
    for thread in sorted(THREADS, key=lambda t: -t.hours_ago):
        _play(thread, by_name[thread.inbox], team)


def _play(thread: Thread, inbox, team: dict[str, Actor]) -> None:
    """Replay one thread through the services, then spread its history over the past."""
    name = next(c[0] for c in CONTACTS if c[1] == thread.email)
    contact = {"email": thread.email, "name": name}
    (_, body), *rest = thread.messages
    first = inbound.receive_inbound(inbox, contact, body, subject=thread.subject)
    conversation = first.conversation
    display_id = conversation.display_id
    messages = [first.message]
    for who, body in rest:
        if who == "customer":
            message = inbound.receive_inbound(
                inbox, contact, body, conversation_display_id=display_id
            ).message
        elif who.startswith("note:"):
            message = conversations.add_note(team[who.removeprefix("note:")], display_id, body)
        else:
            message = conversations.reply(team[who], display_id, body)
        messages.append(message)
    owner = team[thread.assignee or "alex"]
    if thread.assignee:
        conversations.assign(owner, display_id, owner.user_id)
    if thread.labels:
        conversations.update_labels(owner, display_id, add=list(thread.labels))
    if thread.priority != "none":
        conversations.set_priority(owner, display_id, thread.priority)
    if thread.status == "snoozed":
        until = utcnow() + timedelta(days=3)
        conversations.set_status(owner, display_id, "snoozed", snoozed_until=until)
    elif thread.status != "open":
        conversations.set_status(owner, display_id, thread.status)
    if conversation.handoff and not thread.taken_over:
        conversations.hand_back(owner, display_id)
    _backdate(conversation, messages, thread.hours_ago)


def _backdate(conversation, messages, hours_ago: float) -> None:
    # Services stamp everything "now"; a queue where every message arrived in the same second
    # looks fake, so the demo spreads each thread out, ending before the next one starts.
    start = utcnow() - timedelta(hours=hours_ago)
    step = min(timedelta(minutes=47), timedelta(hours=hours_ago) * 0.8 / len(messages))
    for n, message in enumerate(messages):
        message.created_at = start + step * n
    conversation.created_at = start
    conversation.last_activity_at = max(m.created_at for m in messages if m.kind != "note")
    conversation.updated_at = messages[-1].created_at + step / 2
