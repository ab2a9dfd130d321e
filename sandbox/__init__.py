"""Sandbox provider FHIR server (STU3/DSTU2) over the SMART sample patients, for local runs and tests."""

from .app import SandboxApp, create_app
from .server import ServerHandle, serve_in_thread

__all__ = ["SandboxApp", "ServerHandle", "create_app", "serve_in_thread"]
