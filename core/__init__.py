"""The core both sides share: records, settings, the current-volume and history documents.

Imports nothing else of perpvol (tests/test_layers.py checks), so storage, the exchange connectors, the
workers, the web app and the CLI can all use it.
"""
