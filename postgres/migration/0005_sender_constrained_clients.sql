-- Sender-constrained tokens (issue 16), the same as SQLite's
-- (sqlite/migration/0006_sender_constrained_clients.sql): whether a client
-- must bind its tokens to a DPoP key (RFC 9449 §5) or to its client
-- certificate (RFC 8705 §3), and, for tls_client_auth (RFC 8705 §2.1),
-- what its certificate must name — at most one of the five
-- tls_client_auth_* columns is not '' (RFC 8705 §2.1.2, checked by the
-- application), the subject DN in its normalized RFC 4514 string form.
-- Clients stored before this migration get false and '': no requirement,
-- no tls_client_auth.
ALTER TABLE clients
	ADD COLUMN require_dpop boolean NOT NULL DEFAULT false,
	ADD COLUMN require_certificate_bound_tokens boolean NOT NULL DEFAULT false,
	ADD COLUMN tls_client_auth_subject_dn text NOT NULL DEFAULT '',
	ADD COLUMN tls_client_auth_san_dns text NOT NULL DEFAULT '',
	ADD COLUMN tls_client_auth_san_uri text NOT NULL DEFAULT '',
	ADD COLUMN tls_client_auth_san_ip text NOT NULL DEFAULT '',
	ADD COLUMN tls_client_auth_san_email text NOT NULL DEFAULT '';
