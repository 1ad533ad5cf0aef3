-- Server-side token reuse per client (issue 19): token_reuse is 'on',
-- 'off' or '' (the server's setting, serve --reuse-tokens); when on, a
-- request for the same scope, audience and binding while a live token of
-- the client has over half its lifetime left gets that token again.
ALTER TABLE clients ADD COLUMN token_reuse TEXT NOT NULL DEFAULT '';
