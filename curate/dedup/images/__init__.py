"""``curate dedup images``: near-duplicate images by perceptual hash or embedding."""
