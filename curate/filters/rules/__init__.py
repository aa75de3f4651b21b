"""The published rule sets, one module each: Gopher quality and repetition, C4, FineWeb, URL, PII."""
