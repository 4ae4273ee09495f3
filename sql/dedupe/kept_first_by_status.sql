-- lock_and_archive.sql's test under --keep sent-first: the survivor's status ranks before the
-- victim's (kr.r and sr.r, from status_ranks.sql; 0 is the best), or they rank alike and the
-- survivor comes first by age (the kept_first slot, kept_first.sql).
(kr.r < sr.r OR (kr.r = sr.r AND {kept_first}))
