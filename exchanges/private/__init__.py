"""Read-only private API clients: check a user's key and fetch their perp fills, one module per venue."""
