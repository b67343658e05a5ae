"""Pruning dead OAuth rows (oauth/pruning.py): a live grant's tokens stay, spent ones go, a
retired refresh token stays while its grant lives (so its replay still revokes the grant),
clients nobody granted go after a day, a dry run deletes nothing; `deskwoot prune` and the
delivery worker both run it."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select, update

from deskwoot.delivery.worker import Worker
from deskwoot.extensions import db
from deskwoot.models import McpToken, OAuthClient, OAuthCode, OAuthToken, utcnow
from deskwoot.oauth import pruning
from deskwoot.services.operations import prune as maintenance
from tests.oauth import flow
from tests.oauth.flow import Pkce


def rows(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def age_tokens(**values) -> None:
    """Move every issuance's clock (what an hour or a month of waiting would do)."""
    db.session.execute(update(OAuthToken).values(**values))
    db.session.commit()


def test_a_live_grants_tokens_and_client_are_kept(client, auth, desk):
    _, token = flow.full(client, auth, desk)
    result = pruning.prune(now=utcnow() + timedelta(days=2))
    # Only the spent code and the registration's ended throttle windows go.
    assert (result.codes, result.tokens, result.clients) == (1, 0, 0)
    assert rows(OAuthToken) == 1 and rows(OAuthClient) == 1
    # The issuance itself: its access token still opens the server (pruned "now").
    assert pruning.prune().tokens == 0
    assert flow.call(client, token["access_token"]).status_code == 200


def test_an_issuance_whose_tokens_both_expired_is_deleted(client, auth, desk):
    client_id, token = flow.full(client, auth, desk)
    fresh = flow.refresh(client, client_id, token["refresh_token"]).get_json()
    spent = db.session.scalars(select(OAuthToken).order_by(OAuthToken.id)).first()
    past = utcnow() - timedelta(minutes=1)
    db.session.execute(
        update(OAuthToken)
        .where(OAuthToken.id == spent.id)
        .values(access_expires_at=past, refresh_expires_at=past)
    )
    db.session.commit()
    assert pruning.prune().tokens == 1
    assert rows(OAuthToken) == 1
    assert flow.call(client, fresh["access_token"]).status_code == 200
    assert flow.refresh(client, client_id, fresh["refresh_token"]).status_code == 200


def test_a_retired_refresh_token_is_kept_and_its_replay_still_revokes_the_grant(client, auth, desk):
    client_id, token = flow.full(client, auth, desk)
    fresh = flow.refresh(client, client_id, token["refresh_token"]).get_json()
    # Both access tokens have expired; both refresh tokens (one retired) are still in date.
    age_tokens(access_expires_at=utcnow() - timedelta(minutes=1))
    assert pruning.prune().tokens == 0
    assert rows(OAuthToken) == 2
    replay = flow.refresh(client, client_id, token["refresh_token"])
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert db.session.scalars(select(McpToken.revoked_at)).one() is not None
    assert flow.refresh(client, client_id, fresh["refresh_token"]).status_code == 400


def test_a_revoked_grants_issuances_go_after_the_grace_period(client, auth, desk):
    client_id, token = flow.full(client, auth, desk)
    flow.refresh(client, client_id, token["refresh_token"])
    flow.refresh(client, client_id, token["refresh_token"])  # the replay: grant revoked
    assert pruning.prune(now=utcnow() + timedelta(days=6)).tokens == 0
    result = pruning.prune(now=utcnow() + pruning.REVOKED_GRACE + timedelta(hours=1))
    assert result.tokens == 2
    # The grant and its client stay: Settings still lists the revoked grant with its client.
    assert result.clients == 0 and rows(OAuthClient) == 1 and rows(McpToken) == 1


def test_codes_go_an_hour_after_they_expired_used_or_not(client, auth, desk):
    client_id = flow.register(client)
    auth.login(desk.admin.email)
    used_pkce = Pkce.new()
    url = flow.authorize_query(client_id, used_pkce)
    used = flow.code_from(flow.approve(client, url, desk.workspace.id))
    flow.code_from(
        flow.approve(client, flow.authorize_query(client_id, Pkce.new()), desk.workspace.id)
    )
    assert flow.exchange(client, client_id, used, used_pkce.verifier).status_code == 200
    # In the code's lifetime (and the hour after) the used code stays, so a replay is seen.
    assert pruning.prune(now=utcnow() + timedelta(minutes=30)).codes == 0
    assert rows(OAuthCode) == 2
    assert pruning.prune(now=utcnow() + timedelta(hours=2)).codes == 2
    assert rows(OAuthCode) == 0


def test_clients_never_granted_go_after_a_day(client, auth, desk, app):
    flow.full(client, auth, desk)
    flow.register(client, name="Abandoned")
    assert pruning.prune(now=utcnow() + timedelta(hours=23)).clients == 0
    assert pruning.prune(now=utcnow() + timedelta(hours=25)).clients == 1
    assert db.session.scalars(select(OAuthClient.client_name)).all() == ["Hostile Test Client"]
    app.config["OAUTH_UNGRANTED_CLIENT_HOURS"] = 1
    flow.register(client, name="Abandoned again")
    assert pruning.prune(now=utcnow() + timedelta(hours=2)).clients == 1


def dead_rows(client, auth, desk) -> None:
    """One of each kind, all past their keeping: an old client nobody granted, an expired
    code, an issuance whose tokens both expired."""
    flow.full(client, auth, desk)
    flow.register(client, name="Abandoned")
    long_ago = utcnow() - timedelta(days=40)
    db.session.execute(update(OAuthClient).values(created_at=long_ago))
    db.session.execute(update(OAuthCode).values(expires_at=long_ago))
    age_tokens(access_expires_at=long_ago, refresh_expires_at=long_ago)


def test_dry_run_counts_and_deletes_nothing(client, auth, desk, runner):
    dead_rows(client, auth, desk)
    result = maintenance.prune(dry_run=True)
    assert result.oauth.counts() == {
        "OAuth codes": 1,
        "OAuth token issuances": 1,
        "OAuth clients never granted": 1,
        "OAuth registration throttle rows": 0,
    }
    output = runner.invoke(args=["prune", "--dry-run"])
    assert output.exit_code == 0, output.output
    assert "OAuth token issuances" in output.stdout
    assert (rows(OAuthCode), rows(OAuthToken), rows(OAuthClient)) == (1, 1, 2)
    output = runner.invoke(args=["prune"])
    assert output.exit_code == 0, output.output
    lines = {
        line.rsplit(None, 1)[0].strip(): line.split()[-1] for line in output.stdout.splitlines()[1:]
    }
    assert lines["OAuth clients never granted"] == "1"
    assert (rows(OAuthCode), rows(OAuthToken), rows(OAuthClient)) == (0, 0, 1)


def test_deletes_in_bounded_batches(client, auth, desk, monkeypatch):
    client_id = flow.register(client)
    auth.login(desk.admin.email)
    for _ in range(5):
        flow.approve(client, flow.authorize_query(client_id, Pkce.new()), desk.workspace.id)
    db.session.execute(update(OAuthCode).values(expires_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    monkeypatch.setattr(pruning, "BATCH", 2)
    assert pruning.prune(max_batches=1).codes == 2  # one pass's bound
    assert rows(OAuthCode) == 3
    assert pruning.prune().codes == 3  # unbounded: until none are left, 2 at a time
    assert rows(OAuthCode) == 0


def test_the_delivery_worker_prunes_at_most_every_interval(client, auth, desk, app):
    dead_rows(client, auth, desk)
    worker = Worker(app)
    assert worker.run_once() == 0  # nothing to deliver; pruned on the way
    assert (rows(OAuthCode), rows(OAuthToken), rows(OAuthClient)) == (0, 0, 1)
    flow.register(client, name="Abandoned later")
    db.session.execute(update(OAuthClient).values(created_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    worker.run_once()
    assert rows(OAuthClient) == 2  # within OAUTH_PRUNE_INTERVAL of the last prune
    worker.oauth_pruned_at -= app.config["OAUTH_PRUNE_INTERVAL"]
    worker.run_once()
    assert rows(OAuthClient) == 1


def test_a_failing_prune_is_logged_and_the_worker_goes_on(client, auth, desk, app, caplog):
    dead_rows(client, auth, desk)
    app.config["OAUTH_UNGRANTED_CLIENT_HOURS"] = "not a number"  # what a bad config does
    worker = Worker(app)
    with caplog.at_level(logging.ERROR):
        assert worker.run_once() == 0
    assert "oauth: pruning failed" in caplog.text
    assert rows(OAuthToken) == 1  # nothing deleted
    app.config["OAUTH_UNGRANTED_CLIENT_HOURS"] = 24
    worker.oauth_pruned_at = None
    worker.run_once()
    assert rows(OAuthToken) == 0


def test_an_interval_of_zero_leaves_pruning_to_the_cli(client, auth, desk, app):
    dead_rows(client, auth, desk)
    app.config["OAUTH_PRUNE_INTERVAL"] = 0
    Worker(app).run_once()
    assert rows(OAuthToken) == 1
