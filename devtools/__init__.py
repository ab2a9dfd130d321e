"""Local tooling (never deployed): Azurite, the demo runner and the test runner."""
