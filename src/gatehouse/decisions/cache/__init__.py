"""The decision cache: answers of the embedded engines, keyed by the revisions they ran on."""
