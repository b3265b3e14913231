-- Runs (issue 12, continued).

-- The time limit of each phase of a run, seconds, fixed when it is claimed
-- (JSON object: phase → seconds, from the stack's `runs.timeouts` and
-- verification window). The server stops a run whose current phase has
-- lasted longer than its limit plus a grace, even if its worker keeps
-- heart-beating. NULL (claimed before this migration): the default limits.
ALTER TABLE runs ADD COLUMN limits TEXT;
