"""The exchange connectors (one module per venue, one interface), their HTTP client and errors, the
read-only private clients for users' own fills, and the simulator of all four venues. Imports only `core`.
"""
