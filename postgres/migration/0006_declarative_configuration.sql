-- Declarative configuration (issue 17), the same as SQLite's
-- (sqlite/migration/0007_declarative_configuration.sql): managed_by is
-- 'apply' for the clients and trusted issuers gooclaim-auth apply created
-- or adopted, '' for those made by hand (everything stored before this
-- migration, which an apply with --prune therefore never deletes); an
-- audit event's source is what the change came from beyond its actor (for
-- an apply, the configuration file's digest), '' for the others.
ALTER TABLE clients ADD COLUMN managed_by text NOT NULL DEFAULT '';
ALTER TABLE trusted_issuers ADD COLUMN managed_by text NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN source text NOT NULL DEFAULT '';
