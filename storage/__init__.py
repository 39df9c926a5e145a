"""Storage: the PostgreSQL pool and migrations runner, every SQL query, the Redis keys and channels of the
current-volume document, the arq job codec and the embedded PostgreSQL/Redis. Imports only `core`.
"""
