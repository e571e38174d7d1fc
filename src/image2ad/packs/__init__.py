"""Ad packs: one brief made for several placements and variants, as a group of jobs."""
