-- 0010: reserved for the chat branch's migration, which lands with it. This
-- placeholder only keeps the numbering gapless on the request-log branch;
-- drop it when the chat branch's 0010 is merged first.
SELECT 1;
