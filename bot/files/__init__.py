"""Files customers send and reps attach: their kinds, cleaning, storage and expiring links."""
