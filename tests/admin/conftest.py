import pytest

from tests.auth.clients import request_scoped_client


@pytest.fixture
def client(app):
    """Each request with a fresh ``g``, as in production (see tests/auth/clients.py)."""
    return request_scoped_client(app)
