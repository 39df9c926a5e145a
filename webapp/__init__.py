"""The perpvol web application: `webapp.app.create_app(settings)` builds the Quart app and
`webapp.app.create_asgi(settings)` wraps it with the fast path that serves `/public/latest-volume`.

Importing this package builds nothing (the CLI and the workers import below it without loading Quart).
"""
