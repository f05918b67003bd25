"""Who is calling: API keys, roles and per-key rate limits."""
