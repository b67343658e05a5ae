"""Message ids, References chains, reply subjects and conversation markers."""

import pytest

from deskwoot.channels.email.identity import (
    MAX_REFERENCES,
    find_subject_marker,
    message_id_for,
    normalise_message_id,
    own_message_ref,
    parse_id_list,
    references_chain,
    reply_subject,
    single_line,
    subject_marker,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<Abc.123@Mail.Example.com>", "<Abc.123@Mail.Example.com>"),  # case kept
        ("  <a@b>  (comment)", "<a@b>"),
        ("a@b", "<a@b>"),  # some mailers leave out the brackets
        ("", None),
        (None, None),
        ("<>", None),
        ("<a@b\r\n>", "<a@b>"),
    ],
)
def test_normalise_message_id(raw, expected):
    assert normalise_message_id(raw) == expected


def test_over_long_and_non_ascii_ids_become_a_stable_digest():
    long_id = "<" + "x" * 400 + "@example.com>"
    digest = normalise_message_id(long_id)
    assert digest == normalise_message_id(long_id)
    assert digest.endswith("@deskwoot.invalid>") and len(digest) < 100
    assert normalise_message_id("<büro@example.de>").endswith("@deskwoot.invalid>")


def test_parse_id_list_keeps_order_drops_repeats_and_caps_keeping_the_root():
    ids = [f"<m{i}@x>" for i in range(50)]
    parsed = parse_id_list(" ".join(ids) + " <m3@x>")
    assert len(parsed) == MAX_REFERENCES
    assert parsed[0] == "<m0@x>" and parsed[-1] == "<m49@x>"
    assert parse_id_list("<a@x>\r\n <b@x> <a@x>") == ["<a@x>", "<b@x>"]


def test_references_chain_ends_with_the_parent():
    assert references_chain(["<r@x>", "<p@x>", "<q@x>"], "<p@x>") == ["<r@x>", "<q@x>", "<p@x>"]
    assert references_chain([], "<p@x>") == ["<p@x>"]
    assert references_chain(["<r@x>"], None) == ["<r@x>"]


def test_message_id_for_is_deterministic_and_recognisable():
    mid = message_id_for(123, "inb-AbC_9", "Acme.TEST")
    assert mid == "<deskwoot.m123.inb-AbC_9@acme.test>"
    assert message_id_for(123, "inb-AbC_9", "acme.test") == mid
    ref = own_message_ref(mid)
    assert (ref.message_id, ref.inbox_uid) == (123, "inb-AbC_9")
    assert own_message_ref("<CAFx@mail.gmail.com>") is None
    idn = message_id_for(1, "a b<c>", "bücher.example")
    assert idn == "<deskwoot.m1.abc@xn--bcher-kva.example>"
    with pytest.raises(ValueError):
        message_id_for(1, "u", "not a domain")


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("Printer offline", "Re: Printer offline"),
        ("Re: Printer offline", "Re: Printer offline"),
        ("RE: Re: re: Printer", "Re: Printer"),
        ("Aw: AW: Rechnung", "Re: Rechnung"),
        ("Fwd: Invoice", "Re: Invoice"),
        ("Re[2]: Fw: SV: Antw: Odp: Thing", "Re: Thing"),
        ("Re: [#42] Re: Printer", "Re: Printer"),
        ("Reply needed", "Re: Reply needed"),  # a word starting with "Re" is not a prefix
        ("", "Re:"),
        ("Re: Hi\r\nBcc: evil@example.com", "Re: Hi Bcc: evil@example.com"),
    ],
)
def test_reply_subject(original, expected):
    assert reply_subject(original) == expected


def test_subject_marker_round_trip():
    marker = subject_marker(42)
    assert marker == "[#42]"
    assert reply_subject("Re: Printer", marker) == "Re: Printer [#42]"
    assert reply_subject("Re: Printer [#42]", marker) == "Re: Printer [#42]"  # not twice
    assert find_subject_marker("Re: Printer [#42]") == 42
    assert find_subject_marker("Order #42") is None


def test_single_line_removes_every_line_break_and_control():
    assert single_line("a\r\nb\nc\rd\x00e\tf\u2028g\x85h") == "a b c d e f g h"
    assert single_line("x\ud800y") == "x?y"  # a lone surrogate cannot be encoded
