-- Marks audit lines written by the system on its own (auto-approval). Kept when
-- the author withdraws: it says how the story was decided, not what it said.
ALTER TABLE audit_log ADD COLUMN automatic boolean NOT NULL DEFAULT false;
