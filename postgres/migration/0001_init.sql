-- The initial schema, the same as SQLite's (sqlite/migration/0001_init.sql):
-- clients and their secret hashes, signing keys, the change feed and a
-- little metadata.
--
-- Times are bigint Unix nanoseconds (UTC), so that they round-trip exactly;
-- durations bigint nanoseconds; lists text arrays. IDs are COLLATE "C":
-- they sort bytewise, as in SQLite, whatever the database's collation, so
-- that ListClients pages in the same order on both.

CREATE TABLE clients (
	id          text COLLATE "C" NOT NULL PRIMARY KEY,
	name        text NOT NULL DEFAULT '',
	scopes      text[] NOT NULL DEFAULT '{}',
	audiences   text[] NOT NULL DEFAULT '{}',
	token_ttl   bigint NOT NULL DEFAULT 0, -- 0: the server's default
	rate_limit  bigint NOT NULL DEFAULT 0, -- requests per rate_window; 0: the server's default
	rate_window bigint NOT NULL DEFAULT 0,
	disabled    boolean NOT NULL DEFAULT false,
	created_at  bigint NOT NULL,
	updated_at  bigint NOT NULL
);

CREATE TABLE client_secrets (
	client_id  text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	id         text COLLATE "C" NOT NULL,
	hash       text NOT NULL,
	created_at bigint NOT NULL,
	expires_at bigint, -- NULL: never
	PRIMARY KEY (client_id, id)
);

CREATE TABLE keys (
	id           text COLLATE "C" NOT NULL PRIMARY KEY,
	algorithm    text NOT NULL,
	public       bytea NOT NULL,
	sealed       bytea NOT NULL,
	created_at   bigint NOT NULL,
	signing_from bigint NOT NULL
);

-- The change feed. Sequence numbers come from change_counter, not from a
-- sequence: see there.
CREATE TABLE changes (
	seq  bigint NOT NULL PRIMARY KEY,
	kind text NOT NULL,
	id   text NOT NULL DEFAULT '',
	at   bigint NOT NULL
);

-- For pruning, which looks for the newest change older than the retention.
CREATE INDEX changes_at ON changes (at);

-- The number of the newest change, in a single row. Every transaction that
-- appends a change increments it and so holds the row's lock until it
-- commits: such transactions are serialized, and commit in the order of
-- their numbers. (A sequence hands out numbers that can commit out of order,
-- and a replica that has read 6 would never see 5 committed after it.) It
-- is never decremented, so numbers are not reused, even after pruning.
CREATE TABLE change_counter (
	seq bigint NOT NULL,
	one boolean NOT NULL DEFAULT true PRIMARY KEY CHECK (one) -- at most one row
);
INSERT INTO change_counter (seq) VALUES (0);

-- Small facts about the database, such as pruned_through: the highest
-- sequence number of a pruned change (0: none).
CREATE TABLE meta (
	name  text NOT NULL PRIMARY KEY,
	value bigint NOT NULL
);
INSERT INTO meta (name, value) VALUES ('pruned_through', 0);
