-- Reviews belong to the revision they approved or rejected. When a run's
-- plan differs from the judged one, the change request takes a new revision,
-- judged from scratch: the reviews of the revision it replaces move here
-- (JSON array of {reviewer, decision, comment, created_at}) and leave
-- `reviews`, so that an approval given to one plan never counts for another
-- and the same person may review the new revision.
ALTER TABLE change_request_revisions ADD COLUMN reviews TEXT;
