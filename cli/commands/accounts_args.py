"""The arguments of `perpvol user create|reset-password` and `perpvol rotate-secret`, apart from the commands
themselves so that building the parser (every `perpvol` call) does not import argon2, the credential
crypto and the queries."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

NEW_SECRET_ENV = "PERPVOL_NEW_SECRET_KEY"


def add_parsers(sub: Any, add_simulate: Callable[[argparse.ArgumentParser], None]) -> None:
    """`perpvol user create EMAIL` and `perpvol rotate-secret` (run by cli/commands/accounts.py)."""
    user = sub.add_parser("user", help="manage user accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    create = user_sub.add_parser(
        "create",
        help="create an account (works when PERPVOL_SIGNUP=closed)",
        description="Create a user. The password is asked for twice, or read from stdin with --password-stdin.",
    )
    create.add_argument("email")
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add_simulate(create)
    reset = user_sub.add_parser(
        "reset-password",
        help="set a user's password and end all their sessions (no mail needed)",
        description="Set a new password for EMAIL (asked for twice, or read from stdin with "
        "--password-stdin) and sign the user out everywhere. For a user who forgot the password.",
    )
    reset.add_argument("email")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    reset.add_argument(
        "--clear-totp",
        action="store_true",
        help="also remove the user's TOTP second factor and recovery codes (lost phone and codes)",
    )
    add_simulate(reset)
    rotate = sub.add_parser(
        "rotate-secret",
        help="re-encrypt every stored exchange credential and TOTP secret under a new APP_SECRET_KEY",
        description="Reads the current secret from APP_SECRET_KEY and the new one from "
        f"{NEW_SECRET_ENV} (one is generated and printed when it is unset). All credentials and TOTP secrets are "
        "re-encrypted in one transaction, or none is. Then set APP_SECRET_KEY to the new secret and "
        "APP_SECRET_KEY_PREVIOUS to the old one and restart the web app and workers; the worker re-seals "
        "any key saved under the old secret meanwhile. Then remove APP_SECRET_KEY_PREVIOUS.",
    )
    add_simulate(rotate)
