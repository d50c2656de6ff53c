"""Fixtures for the staff area: a signed-in staff member and their browser."""

from __future__ import annotations

import pytest


@pytest.fixture
def staff(make):
    """A sales rep with a recognisable name."""
    return make.staff(name="Sam Sales")


@pytest.fixture
def staff_client(client, staff, login):
    """The test client, signed in as ``staff`` through the real login form."""
    login(client, staff)
    return client
