-- Token quotas per client (issue 19), the same as SQLite's
-- (sqlite/migration/0008_client_quotas.sql): quotas is a JSON list of
-- "N/WINDOW" strings ("10000/1d"), [] for none (the server's default
-- quotas apply); quota_mode is '' (enforce) or 'warn'.
ALTER TABLE clients ADD COLUMN quotas text NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN quota_mode text NOT NULL DEFAULT '';
