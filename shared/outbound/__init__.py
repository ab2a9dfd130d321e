"""Outbound HTTP to hosts an operator named: the address policy, guarded and deadline-bounded connections,
the pooled upstream client with its per-tenant slots, and the upstream failures as domain errors.

Below the proxy, upstream authentication and onboarding, which all call providers or token URLs through it;
it imports only settings and primitives.
"""
