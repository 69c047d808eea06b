-- 0016: remote engines as first-class providers. preset names the kind of
-- server ('' generic, 'vllm', 'sglang', 'llamacpp', 'ollama', 'lmstudio',
-- 'modelbar'): the config service validates it, and no CHECK lists the
-- names, so a later preset needs no table rebuild. extra_headers is a JSON
-- object of header name to value sent on every request to the provider.
-- health_check_seconds is the interval of its health check; 0 is none.
-- Existing providers are generic, without extra headers or health checks.

ALTER TABLE providers ADD COLUMN preset TEXT NOT NULL DEFAULT '';
ALTER TABLE providers ADD COLUMN extra_headers TEXT NOT NULL DEFAULT '{}'
    CHECK (json_valid(extra_headers) AND json_type(extra_headers) = 'object');
ALTER TABLE providers ADD COLUMN health_check_seconds INTEGER NOT NULL DEFAULT 0
    CHECK (health_check_seconds = 0 OR health_check_seconds BETWEEN 5 AND 3600);
