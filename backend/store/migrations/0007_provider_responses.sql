-- 0007: whether a provider offers the Responses API (POST /v1/responses):
-- 'auto' tries it and learns from a 404/405, 'yes' always relays,
-- 'no' always translates to chat completions.

ALTER TABLE providers ADD COLUMN responses TEXT NOT NULL DEFAULT 'auto' CHECK (responses IN ('auto', 'yes', 'no'));
