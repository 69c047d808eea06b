-- 0013: the request log keeps how many of a request's input tokens the
-- backend read from its prompt cache (the local engine's reused prefix,
-- a provider's cache hits): part of input_tokens, 0 when none or unknown.

ALTER TABLE requests ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;
