-- The client lifecycle: authentication methods, public keys for
-- private_key_jwt, metadata and revoke-all on clients; revoked tokens; the
-- audit trail.
--
-- As in 0001: times are integer Unix nanoseconds (UTC), lists JSON arrays
-- of strings.

ALTER TABLE clients ADD COLUMN auth_methods TEXT NOT NULL DEFAULT '[]'; -- []: every method its credentials allow
ALTER TABLE clients ADD COLUMN jwks BLOB; -- the public JWK Set as JSON; NULL: none
ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT ''; -- '': none
ALTER TABLE clients ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}'; -- a JSON object of strings
ALTER TABLE clients ADD COLUMN tokens_revoked_before INTEGER; -- NULL: no revoke-all

-- Revoked access tokens (RFC 7009), kept until they would have expired.
-- No foreign key to clients: a revocation outlives its client.
CREATE TABLE revoked_tokens (
	jti        TEXT NOT NULL PRIMARY KEY,
	client_id  TEXT NOT NULL DEFAULT '',
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL
);

-- For PruneRevocations.
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- The audit trail: one row per write, in the write's transaction, never
-- updated or deleted. Write transactions take SQLite's write lock first
-- (BEGIN IMMEDIATE), so they are serialized and each one's seq is higher
-- than that of every transaction committed before it: paging with
-- seq > after misses nothing. AUTOINCREMENT: a number is never reused.
CREATE TABLE audit_events (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	at          INTEGER NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	target_kind TEXT NOT NULL,
	target_id   TEXT NOT NULL DEFAULT '',
	remote_addr TEXT NOT NULL DEFAULT '',
	before      TEXT, -- JSON; NULL: the target did not exist before
	after       TEXT  -- JSON; NULL: the target does not exist after
);

CREATE INDEX audit_events_target ON audit_events (target_id, seq);
CREATE INDEX audit_events_at ON audit_events (at);
