-- The initial schema: clients and their secret hashes, signing keys, the
-- change feed and a little metadata.
--
-- Times are integer Unix nanoseconds (UTC), durations integer nanoseconds,
-- lists JSON arrays of strings.

CREATE TABLE clients (
	id          TEXT NOT NULL PRIMARY KEY,
	name        TEXT NOT NULL DEFAULT '',
	scopes      TEXT NOT NULL DEFAULT '[]',
	audiences   TEXT NOT NULL DEFAULT '[]',
	token_ttl   INTEGER NOT NULL DEFAULT 0, -- 0: the server's default
	rate_limit  INTEGER NOT NULL DEFAULT 0, -- requests per rate_window; 0: the server's default
	rate_window INTEGER NOT NULL DEFAULT 0,
	disabled    INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);

CREATE TABLE client_secrets (
	client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	id         TEXT NOT NULL,
	hash       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER, -- NULL: never
	PRIMARY KEY (client_id, id)
);

CREATE TABLE keys (
	id           TEXT NOT NULL PRIMARY KEY,
	algorithm    TEXT NOT NULL,
	public       BLOB NOT NULL,
	sealed       BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	signing_from INTEGER NOT NULL
);

-- AUTOINCREMENT: a sequence number is never reused, even after pruning.
CREATE TABLE changes (
	seq  INTEGER PRIMARY KEY AUTOINCREMENT,
	kind TEXT NOT NULL,
	id   TEXT NOT NULL DEFAULT '',
	at   INTEGER NOT NULL
);

-- Small facts about the database, such as pruned_through: the highest
-- sequence number of a pruned change.
CREATE TABLE meta (
	name  TEXT NOT NULL PRIMARY KEY,
	value NOT NULL
);
