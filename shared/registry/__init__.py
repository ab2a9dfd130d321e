"""The registry: clients and tenant-to-provider maps; callers use `cached`, over `clients`/`tenants`, over `storage`.

Names, the same in every module:
- `load_x(id)` reads storage now and returns None when the entity does not exist;
  `get_x(id)` reads storage now and raises EntityNotFound instead; `list_x()` reads them all.
- `cached.client_state(id)` / `cached.tenant(id)` are the hot path's reads, at most one TTL old.
- Secrets have two operations, `add_secret` and `revoke_secret` (a revoked row stays for the audit trail).
  In `clients` and `cached` they take the `ClientState` as read and commit under its ETag (EntityConflict when
  the secrets changed since); `add_secret_by_id` / `revoke_secret_by_id` read first, for operators.
  `secret_rules.add_secret` / `revoke_secret` add the rules (the active cap, never the last active secret)
  and the retries; the secrets API and the portal call those.
- Every write goes through `cached`, so this instance sees its own change at once.
"""
