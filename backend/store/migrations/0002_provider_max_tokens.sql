-- 0002: a provider's default max_tokens, used when an OpenAI client omits it
-- and the provider speaks Anthropic's API (which requires it). 0 means
-- modelbar's default.

ALTER TABLE providers ADD COLUMN default_max_tokens INTEGER NOT NULL DEFAULT 0 CHECK (default_max_tokens >= 0);
