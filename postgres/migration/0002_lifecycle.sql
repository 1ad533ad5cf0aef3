-- The client lifecycle, the same as SQLite's (sqlite/migration/0002_lifecycle.sql):
-- authentication methods, public keys for private_key_jwt, metadata and
-- revoke-all on clients; revoked tokens; the audit trail.
--
-- As in 0001: times are bigint Unix nanoseconds (UTC), lists text arrays,
-- IDs COLLATE "C".

ALTER TABLE clients
	ADD COLUMN auth_methods text[] NOT NULL DEFAULT '{}', -- {}: every method its credentials allow
	ADD COLUMN jwks bytea, -- the public JWK Set as JSON, kept byte for byte; NULL: none
	ADD COLUMN jwks_uri text NOT NULL DEFAULT '', -- '': none
	ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}', -- an object of strings
	ADD COLUMN tokens_revoked_before bigint; -- NULL: no revoke-all

-- Revoked access tokens (RFC 7009), kept until they would have expired.
-- No foreign key to clients: a revocation outlives its client.
CREATE TABLE revoked_tokens (
	jti        text COLLATE "C" NOT NULL PRIMARY KEY,
	client_id  text COLLATE "C" NOT NULL DEFAULT '',
	expires_at bigint NOT NULL,
	revoked_at bigint NOT NULL
);

-- For PruneRevocations.
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- The audit trail: one row per write, in the write's transaction, never
-- updated or deleted. Sequence numbers come from audit_counter, not from a
-- sequence, for the reason given for change_counter in 0001: a reader
-- paging with seq > after must never miss an event that commits after one
-- with a higher number. before and after are json, not jsonb, so that they
-- read back as written.
CREATE TABLE audit_events (
	seq         bigint NOT NULL PRIMARY KEY,
	at          bigint NOT NULL,
	actor       text NOT NULL,
	action      text NOT NULL,
	target_kind text NOT NULL,
	target_id   text COLLATE "C" NOT NULL DEFAULT '',
	remote_addr text NOT NULL DEFAULT '',
	before      json, -- NULL: the target did not exist before
	after       json  -- NULL: the target does not exist after
);

CREATE INDEX audit_events_target ON audit_events (target_id, seq);
CREATE INDEX audit_events_at ON audit_events (at);

-- The number of the newest audit event, in a single row: every write that
-- records an event increments it just before it commits, and so holds the
-- row's lock until then. Such writes commit in the order of their numbers.
CREATE TABLE audit_counter (
	seq bigint NOT NULL,
	one boolean NOT NULL DEFAULT true PRIMARY KEY CHECK (one) -- at most one row
);
INSERT INTO audit_counter (seq) VALUES (0);
