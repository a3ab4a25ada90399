"""Stage 4, pack: a country's staged units → one output file, through the run's writer."""
