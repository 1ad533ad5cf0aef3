-- Claims and conditions in CEL per client (issue 19), the same as SQLite's
-- (sqlite/migration/0009_client_expressions.sql): claims is a JSON object
-- of claim name to expression, {} for none (the server's default claims
-- still apply); condition is the expression that must be true for a
-- token, '' for none.
ALTER TABLE clients ADD COLUMN claims text NOT NULL DEFAULT '{}';
ALTER TABLE clients ADD COLUMN condition text NOT NULL DEFAULT '';
