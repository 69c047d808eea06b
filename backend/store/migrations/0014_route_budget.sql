-- 0014: an optional budget per route. max_requests_per_minute caps the
-- requests the route admits in a minute; max_tokens_per_day caps the input
-- plus output tokens of its requests since local midnight. NULL is no limit,
-- so existing routes are unchanged.

ALTER TABLE routes ADD COLUMN max_requests_per_minute INTEGER CHECK (max_requests_per_minute IS NULL OR max_requests_per_minute > 0);
ALTER TABLE routes ADD COLUMN max_tokens_per_day INTEGER CHECK (max_tokens_per_day IS NULL OR max_tokens_per_day > 0);
