"""Page view models: the figures each dashboard page shows (shares, sums, summaries, per-venue status),
computed from storage reads and core documents and returned as typed dicts the templates render."""
