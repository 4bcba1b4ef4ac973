"""ragserve CLI."""
