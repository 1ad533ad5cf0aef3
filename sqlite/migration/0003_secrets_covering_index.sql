-- Reading every client (a node's start-up and its full reload) takes each
-- page's secrets by a range of client_id, in the order below. The primary
-- key's index finds the rows, but then each one's hash and times cost a
-- lookup in the table by rowid, which is all over the file: with a million
-- clients that was a third of the start-up. This index holds every column
-- the read needs in the order it needs them, so the read is one walk along
-- it (replica load of 1M clients: 11.1 s → 7.8 s).
CREATE INDEX client_secrets_by_client ON client_secrets (client_id, created_at, id, hash, expires_at);
