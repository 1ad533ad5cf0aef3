-- Secretless workloads (issue 15): the identity providers whose tokens may
-- authenticate clients (trusted issuers), the subjects of theirs bound to
-- clients (federated identities), and the audiences a client may obtain by
-- token exchange.
--
-- As in 0001: times are integer Unix nanoseconds (UTC), durations integer
-- nanoseconds, lists JSON arrays of strings.

ALTER TABLE clients ADD COLUMN exchange_audiences TEXT NOT NULL DEFAULT '[]'; -- []: the client may not delegate

-- issuer is the "iss" compared exactly; two trusted issuers sharing one
-- would make a token's issuer ambiguous, hence UNIQUE.
CREATE TABLE trusted_issuers (
	name          TEXT NOT NULL PRIMARY KEY,
	issuer        TEXT NOT NULL UNIQUE,
	jwks_uri      TEXT NOT NULL DEFAULT '', -- '': none
	jwks          BLOB, -- the public JWK Set as JSON; NULL: none (with no jwks_uri either: OpenID discovery)
	audience      TEXT NOT NULL DEFAULT '', -- '': this server's own identifiers
	max_token_age INTEGER NOT NULL DEFAULT 0, -- 0: the default (an hour)
	disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);

-- The primary key makes an (issuer, subject) pair belong to one client at
-- most: a token could otherwise authenticate two. Deleting a client drops
-- its bindings; deleting an issuer that still has some is refused, so that
-- a binding never names an issuer that does not exist. position keeps a
-- client's identities in the order they were given.
CREATE TABLE client_federated_identities (
	issuer    TEXT NOT NULL REFERENCES trusted_issuers (name) ON DELETE RESTRICT,
	subject   TEXT NOT NULL,
	client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	position  INTEGER NOT NULL,
	PRIMARY KEY (issuer, subject)
);

-- A client's identities, read with the client (and for a range of clients
-- during a replica's full load), and the cascade of a client's deletion.
CREATE INDEX client_federated_identities_by_client ON client_federated_identities (client_id, position);
