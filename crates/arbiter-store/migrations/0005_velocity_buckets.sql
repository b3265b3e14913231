-- The velocity governor's counters: per submitter and minute, the
-- submissions and the resources they changed, kept up to date with every
-- change request. Checking a submission reads at most 61 rows, however
-- many submissions the last hour holds.
CREATE TABLE velocity_buckets (
    submitter   TEXT NOT NULL,
    minute      BIGINT NOT NULL,
    submissions BIGINT NOT NULL,
    resources   BIGINT NOT NULL,
    PRIMARY KEY (submitter, minute)
);
INSERT INTO velocity_buckets (submitter, minute, submissions, resources)
SELECT submitter, created_at / 60000, COUNT(*), CAST(SUM(resources_changed) AS BIGINT)
FROM change_requests GROUP BY submitter, created_at / 60000;
