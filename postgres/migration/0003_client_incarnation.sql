-- Each client's incarnation, the same as SQLite's
-- (sqlite/migration/0004_client_incarnation.sql): a random value given when
-- the client is created and never changed, carried by its tokens, so that
-- a client deleted and created again with the same ID never revives the
-- deleted one's tokens. '' for clients stored before this migration.
ALTER TABLE clients ADD COLUMN incarnation text NOT NULL DEFAULT '';
