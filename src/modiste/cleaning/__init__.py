"""Catalog cleaning: unwanted images, duplicates, text categorization."""
