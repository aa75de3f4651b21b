"""Map stages over documents: quality filters (keep or drop, with a reason) and modifiers
(rewrite the text, e.g. PII redaction). A new one is one class registered in ``registry``."""
