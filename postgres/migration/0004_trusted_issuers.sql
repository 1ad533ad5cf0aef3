-- Secretless workloads (issue 15), the same as SQLite's
-- (sqlite/migration/0005_trusted_issuers.sql): trusted issuers, the
-- subjects of theirs bound to clients (federated identities), and the
-- audiences a client may obtain by token exchange.
--
-- As in 0001: times are bigint Unix nanoseconds (UTC), durations bigint
-- nanoseconds, lists text arrays, names and IDs COLLATE "C".

ALTER TABLE clients ADD COLUMN exchange_audiences text[] NOT NULL DEFAULT '{}'; -- {}: the client may not delegate

-- issuer is the "iss" compared exactly; two trusted issuers sharing one
-- would make a token's issuer ambiguous, hence UNIQUE.
CREATE TABLE trusted_issuers (
	name          text COLLATE "C" NOT NULL PRIMARY KEY,
	issuer        text NOT NULL UNIQUE,
	jwks_uri      text NOT NULL DEFAULT '', -- '': none
	jwks          bytea, -- the public JWK Set as JSON, kept byte for byte; NULL: none (with no jwks_uri either: OpenID discovery)
	audience      text NOT NULL DEFAULT '', -- '': this server's own identifiers
	max_token_age bigint NOT NULL DEFAULT 0, -- 0: the default (an hour)
	disabled      boolean NOT NULL DEFAULT false,
	created_at    bigint NOT NULL,
	updated_at    bigint NOT NULL
);

-- The primary key makes an (issuer, subject) pair belong to one client at
-- most: a token could otherwise authenticate two. Deleting a client drops
-- its bindings; deleting an issuer that still has some is refused, so that
-- a binding never names an issuer that does not exist. position keeps a
-- client's identities in the order they were given.
CREATE TABLE client_federated_identities (
	issuer    text COLLATE "C" NOT NULL REFERENCES trusted_issuers (name) ON DELETE RESTRICT,
	subject   text COLLATE "C" NOT NULL,
	client_id text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	position  integer NOT NULL,
	PRIMARY KEY (issuer, subject)
);

-- A client's identities, read with the client (and for a range of clients
-- during a replica's full load), and the cascade of a client's deletion.
CREATE INDEX client_federated_identities_by_client ON client_federated_identities (client_id, position);
