-- 0009: the API a provider's models speak for chat: '' is the API of its
-- type (chat completions or Anthropic Messages); 'responses' says an
-- OpenAI-API provider's models speak only the Responses API, so chat
-- completions and Anthropic clients reach them through translation.

ALTER TABLE providers ADD COLUMN api TEXT NOT NULL DEFAULT '' CHECK (api IN ('', 'responses'));
