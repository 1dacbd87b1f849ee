"""tmvlib."""
