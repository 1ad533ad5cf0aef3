-- Declarative configuration (issue 17): which clients and trusted issuers
-- a configuration file manages, and what each audited change came from.
--
-- managed_by is 'apply' for the objects gooclaim-auth apply created or
-- adopted, '' for those made by hand — everything stored before this
-- migration, which an apply with --prune therefore never deletes.
ALTER TABLE clients ADD COLUMN managed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE trusted_issuers ADD COLUMN managed_by TEXT NOT NULL DEFAULT '';

-- source is what a change came from beyond its actor (auth.AuditEvent.Source):
-- for an apply, the configuration file's digest; '' for the others.
ALTER TABLE audit_events ADD COLUMN source TEXT NOT NULL DEFAULT '';
