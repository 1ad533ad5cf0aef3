-- Each client's incarnation: a random value given when the client is
-- created and never changed, carried by its tokens (the client_incarnation
-- claim). A token is accepted only while it names the incarnation of the
-- client now holding its client_id, so deleting a client and creating
-- another with the same ID never revives the deleted one's tokens.
-- Clients stored before this migration have '', which matches the tokens
-- issued before it (they carry no such claim).
ALTER TABLE clients ADD COLUMN incarnation TEXT NOT NULL DEFAULT '';
