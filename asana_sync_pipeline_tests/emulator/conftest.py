"""Fixtures for the emulator's tests: a live emulator on loopback and an httpx client for it;
every answer is checked against Asana's OpenAPI spec by the autouse `asana_response_contract` of the package's conftest."""

from collections.abc import Iterator

import httpx
import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings

TOKEN = "0/0123456789abcdef0123456789abcdef"


def client_for(server: EmulatorServer, token: str = TOKEN, **options) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, **options)


@pytest.fixture(scope="module")
def shared_server() -> Iterator[EmulatorServer]:
    """One emulator for a module's tests that only add tasks of their own."""
    with EmulatorServer(EmulatorSettings(token=TOKEN)) as running:
        yield running


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    """A fresh emulator, for tests that look at everything it holds."""
    with EmulatorServer(EmulatorSettings(token=TOKEN)) as running:
        yield running


@pytest.fixture
def http(shared_server: EmulatorServer) -> Iterator[httpx.Client]:
    with client_for(shared_server) as client:
        yield client
