-- 0008: reserved for the stored responses (branch rstate), which is
-- numbered 0008 there; this placeholder keeps the versions of this branch
-- without gaps and is to be deleted when the two meet.

SELECT 1;
