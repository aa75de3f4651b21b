"""Repeated-line (or paragraph) removal across a corpus, as CCNet and FineWeb do for
navigation, cookie banners and footers: count every line's hash over the whole dataset,
then remove the lines seen at least N times and drop documents left too short."""
