"""arq's connection settings from a Redis URL, TLS options included.

redis-py reads TLS options from the URL's query (`rediss://…?ssl_ca_certs=/ca.pem&ssl_check_hostname=true`,
which `PERPVOL_REDIS_CA` fills in), but arq's `RedisSettings.from_dsn` keeps only host, port, password and
database: without this the workers would connect to a managed Redis unverified, or not at all.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from arq.connections import RedisSettings

_TRUE = ("1", "true", "yes", "on")


def arq_redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    if urlsplit(url).scheme != "rediss":
        return settings
    query = dict(parse_qsl(urlsplit(url).query))
    settings.ssl_ca_certs = query.get("ssl_ca_certs")
    settings.ssl_certfile = query.get("ssl_certfile")
    settings.ssl_keyfile = query.get("ssl_keyfile")
    settings.ssl_cert_reqs = query.get("ssl_cert_reqs", "required")
    settings.ssl_check_hostname = query.get("ssl_check_hostname", "false").lower() in _TRUE
    return settings
