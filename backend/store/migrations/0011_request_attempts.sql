-- 0011: the request log keeps each request's failover chain and says where
-- its output token count comes from.
--
-- attempts is a JSON array of steps, one per try of a backend, in order:
-- {"backend","model","status","outcome","reason","retry","duration_ms"}.
-- A reason is modelbar's own short words, never a provider's message (which
-- may quote the prompt). output_tokens_source is "usage" (the backend's
-- report), "counted" (the local engine's tokens), "estimated" (from the
-- streamed text) or "" (nothing produced).
--
-- requests_backend serves the per-backend totals and the backend filter.

ALTER TABLE requests ADD COLUMN attempts TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(attempts) AND json_type(attempts) = 'array');
ALTER TABLE requests ADD COLUMN output_tokens_source TEXT NOT NULL DEFAULT '';

CREATE INDEX requests_backend ON requests (backend, time);
