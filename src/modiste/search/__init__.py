"""Search: visual (photo, product) and text (with fashion synonyms)."""
