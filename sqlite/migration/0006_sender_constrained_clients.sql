-- Sender-constrained tokens (issue 16): what a client requires of its
-- token requests and, for tls_client_auth (RFC 8705 §2.1), what its
-- certificate must name. Columns on clients rather than a table of their
-- own: every client has at most one of each, and a replica's full load
-- reads them with the rest of the row.
--
-- require_dpop refuses the client's token requests without a DPoP proof
-- (RFC 9449 §5), require_certificate_bound_tokens those without a client
-- certificate (RFC 8705 §3). Of the five tls_client_auth_* columns at most
-- one is not '' (RFC 8705 §2.1.2; the application checks it, as it checks
-- the rest of a client); the subject DN is kept in its normalized RFC 4514
-- string form, the form certificates' subjects are compared in. '' and 0
-- are what the clients stored before this migration have: no requirement,
-- no tls_client_auth.
ALTER TABLE clients ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0 CHECK (require_dpop IN (0, 1));
ALTER TABLE clients ADD COLUMN require_certificate_bound_tokens INTEGER NOT NULL DEFAULT 0 CHECK (require_certificate_bound_tokens IN (0, 1));
ALTER TABLE clients ADD COLUMN tls_client_auth_subject_dn TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_auth_san_dns TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_auth_san_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_auth_san_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_auth_san_email TEXT NOT NULL DEFAULT '';
