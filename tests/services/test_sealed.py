"""Credentials Deskwoot must read back are sealed at rest (services/access/sealed.py)."""

import pytest

from deskwoot.services.access import sealed


def test_a_sealed_value_opens_with_the_same_key_only(app):
    stored = sealed.seal("smtps://ada:hunter2@mail.example:465")
    assert stored.startswith(sealed.PREFIX)
    assert "hunter2" not in stored
    assert sealed.unseal(stored) == "smtps://ada:hunter2@mail.example:465"
    assert sealed.seal("x") != sealed.seal("x")  # a fresh IV each time
    with pytest.raises(sealed.SealBroken, match="SECRET_KEY"):
        sealed.unseal(stored, secret_key="another key")


def test_none_and_values_from_before_sealing_pass_through(app):
    assert sealed.seal(None) is None
    assert sealed.unseal(None) is None
    assert sealed.unseal("whsec_legacy") == "whsec_legacy"
    assert not sealed.is_sealed("whsec_legacy")


def test_a_tampered_value_is_refused(app):
    stored = sealed.seal("secret")
    with pytest.raises(sealed.SealBroken):
        sealed.unseal(stored[:-4] + "AAAA")
