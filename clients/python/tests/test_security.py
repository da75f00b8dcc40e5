"""TLS, tokens and access rules, with a one-daemon site configured for them."""

from __future__ import annotations

import os
import shutil
import ssl
from pathlib import Path
from typing import Iterator

import pytest
from cluster import REPO, Site, chorusd_available, require_chorusd, skip_reason
from conftest import run, unique
from helpers import next_event

import chorus
import chorus.blocking
from chorus import FrameType, Membership, Message

require_chorusd()

TLS = REPO / "Tests" / "ChorusIntegrationTests" / "TLS"
SECRET = "py-client-secret-0123456789"


@pytest.fixture(scope="module")
def secure_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not chorusd_available():
        pytest.skip(skip_reason())
    if not (TLS / "server.pem").exists():
        pytest.skip(f"no test certificates in {TLS}")
    directory = tmp_path_factory.mktemp("secure")
    for name in ("server.pem", "server-key.pem"):
        shutil.copy(TLS / name, directory / name)
    os.chmod(directory / "server-key.pem", 0o600)
    tokens = directory / "tokens"
    tokens.write_text(f"token billing {SECRET}\n")
    os.chmod(tokens, 0o600)
    extra = f"""
[clients]
tokens_file = "{tokens}"
tls_certificate = "{directory / 'server.pem'}"
tls_key = "{directory / 'server-key.pem'}"

[access]
default = "allow"

[[access_rule]]
groups = ["billing*"]
join = ["token:billing"]
send = ["token:billing"]
"""
    site = Site(directory, count=1, extra=extra)
    site.start()
    try:
        yield site
    finally:
        site.stop()


def client_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(TLS / "ca.pem"))


def test_tls_with_a_token(secure_site: Site) -> None:
    daemon = secure_site["d1"]
    group = unique("chat")

    async def scenario() -> None:
        async with chorus.connect(daemon.tcp, name=unique("tls"), ssl=client_context(), token=SECRET) as session:
            assert session.daemon_name == "d1"
            await session.join(group)
            assert isinstance(await next_event(session, Membership), Membership)
            await session.multicast(group, b"over TLS")
            assert (await next_event(session, Message)).payload == b"over TLS"
            status = await session.status(timeout=5)
            mine = [s for s in status["sessions"] if s["privateGroup"] == session.private_group]
            assert "token billing" in mine[0]["identity"]
        # close() over TLS sends disconnect (no half-close in TLS) and ends cleanly.
        assert session.closed and session.failure is None

    run(scenario())
    with chorus.blocking.connect(daemon.tcp, name=unique("btls"), ssl=client_context(), token=SECRET) as blocking:
        blocking.join(group)
        assert isinstance(blocking.receive(5), Membership)
        blocking.multicast(group, b"blocking over TLS")
        event = blocking.receive(5)
        assert isinstance(event, Message) and event.payload == b"blocking over TLS"
    assert blocking.closed


def test_missing_or_wrong_tokens_are_refused(secure_site: Site) -> None:
    daemon = secure_site["d1"]

    async def scenario() -> None:
        with pytest.raises(chorus.AuthenticationFailedError) as no_token:
            await chorus.connect(daemon.tcp, name=unique("nt"), ssl=client_context())
        assert no_token.value.code == 17
        with pytest.raises(chorus.AuthenticationFailedError):
            await chorus.connect(daemon.tcp, name=unique("wt"), ssl=client_context(), token="not-the-secret-at-all")
        with pytest.raises(chorus.AuthenticationFailedError):
            await chorus.connect(daemon.unix, name=unique("wu"), token="not-the-secret-at-all")
        # A certificate from the wrong CA: the TLS handshake fails.
        wrong = ssl.create_default_context(cafile=str(TLS / "other-ca.pem"))
        with pytest.raises(chorus.ConnectionFailed):
            await chorus.connect(daemon.tcp, name=unique("ca"), ssl=wrong, token=SECRET)

    run(scenario())
    with pytest.raises(chorus.AuthenticationFailedError):
        chorus.blocking.connect(daemon.tcp, name=unique("bnt"), ssl=client_context())


def test_access_rules_refuse_without_ending_the_session(secure_site: Site) -> None:
    daemon = secure_site["d1"]
    open_group, billing = unique("open"), unique("billing")

    async def scenario() -> None:
        # On the Unix socket a token is optional; without one, billing* is closed.
        async with chorus.connect(daemon.unix, name=unique("anon")) as anon, chorus.connect(
            daemon.unix, name=unique("billing"), token=SECRET
        ) as billing_app:
            await anon.join(billing)
            refused = await next_event(anon, chorus.Refused)
            assert refused.code == chorus.ErrorCode.ACCESS_DENIED and refused.request == FrameType.JOIN
            assert refused.group == billing and refused.text
            assert isinstance(refused.error(), chorus.AccessDeniedError)
            await anon.multicast([open_group, billing], b"not allowed")
            refused = await next_event(anon, chorus.Refused)
            assert refused.request == FrameType.MULTICAST and refused.group == billing
            # The session goes on.
            await anon.join(open_group)
            assert (await next_event(anon, Membership)).group == open_group
            await billing_app.join(billing)
            assert (await next_event(billing_app, Membership)).group == billing
            await billing_app.multicast(billing, b"allowed")
            assert (await next_event(billing_app, Message)).payload == b"allowed"
            # reloadKeys from root on the Unix socket, in plain mode: refused as reloadFailed.
            with pytest.raises(chorus.ReloadFailedError):
                await anon.reload_keys(timeout=5)

    run(scenario())


