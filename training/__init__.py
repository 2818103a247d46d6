"""Algorithm 1 of the paper end to end: datasets, stages, evaluation and export."""
