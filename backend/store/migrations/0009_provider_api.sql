-- 0009: the API a provider's models speak for chat: '' is the API of its
-- type (chat completions or Anthropic Messages); 'responses' says an
-- OpenAI-API provider's models speak only the Responses API, so chat
-- completions and Anthropic clients reach them through translation.
-- A route's api says the same of its backend for the models it routes.

ALTER TABLE providers ADD COLUMN api TEXT NOT NULL DEFAULT '' CHECK (api IN ('', 'responses'));
ALTER TABLE routes ADD COLUMN api TEXT NOT NULL DEFAULT '' CHECK (api IN ('', 'responses'));
