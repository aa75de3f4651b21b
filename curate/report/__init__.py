"""``curate report``: one self-contained HTML page about a dataset or a whole chain."""
