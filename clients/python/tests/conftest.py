"""Shared fixtures: the package from src/ (no install needed), real chorusd sites, helpers."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any, Awaitable, Iterator, TypeVar

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cluster  # noqa: E402

T = TypeVar("T")


def run(coroutine: Awaitable[T], timeout: float = 30.0) -> T:
    """Runs a test coroutine in a fresh event loop, failing it after ``timeout`` seconds."""

    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, timeout)

    return asyncio.run(bounded())


def unique(prefix: str) -> str:
    """A name no other test uses (group and session names)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster.Site]:
    """A 3-daemon site shared by the tests that do not harm it (fresh names per test)."""
    if not cluster.chorusd_available():
        pytest.skip(cluster.skip_reason())
    the_site = cluster.Site(tmp_path_factory.mktemp("site"), count=3)
    the_site.start()
    try:
        yield the_site
    finally:
        the_site.stop()


@pytest.fixture()
def fresh_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster.Site]:
    """A 3-daemon site of the test's own (for tests that kill daemons)."""
    if not cluster.chorusd_available():
        pytest.skip(cluster.skip_reason())
    the_site = cluster.Site(tmp_path_factory.mktemp("fault"), count=3)
    the_site.start()
    try:
        yield the_site
    finally:
        the_site.stop()


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "daemon: needs real chorusd processes")
