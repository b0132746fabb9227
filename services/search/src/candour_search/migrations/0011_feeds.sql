-- The responses feed reads the newest responses first.
CREATE INDEX search_responses_newest ON search_responses (posted_at DESC, response_id DESC);
