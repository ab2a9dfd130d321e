"""Portal fixtures: the local authority with the portal's app registration, and the portal's settings."""

from portal_env import portal, portal_setup  # noqa: F401 - fixtures
