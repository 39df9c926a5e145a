"""Sign-in throttling in Redis, in three counters (ASVS 5.0 6.1.1, 6.3.1):

- per (account, client address): the first `PAIR_FREE_FAILURES` failures cost nothing, then each one
  makes that pair wait twice as long as the last (2 s, 4 s, … up to `MAX_DELAY`). Guessing from one
  address slows to a few tries an hour, and it locks out nobody else: the account's owner signing in
  from another address is not affected.
- per account, from anywhere: a looser ceiling (`ACCOUNT_FAILURES` an hour) against guessing spread
  over many addresses. Reaching it locks the account for the rest of the hour from every address: the
  price of stopping a botnet, paid only under such an attack.
- per client address, across accounts: `ADDRESS_FAILURES` per 15 minutes (credential stuffing).

Sign-up is limited per client address too (`SIGNUP_PER_ADDRESS` an hour): each one costs a password
hash and a row, so one address cannot fill the table or the hashing queue.

The scripts use only commands Redis 6.2 and 7 share (no `EXPIRE … NX`). Any Redis error propagates
and the view answers 503: an attempt that cannot be counted or checked is refused, never let through.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

PAIR_FREE_FAILURES = 3
PAIR_WINDOW = 86_400  # seconds; refreshed by every failure, so the delay keeps growing while guessing lasts
MAX_DELAY = 900
ACCOUNT_FAILURES = 100
ACCOUNT_WINDOW = 3600
ADDRESS_FAILURES = 30
ADDRESS_WINDOW = 900
SIGNUP_PER_ADDRESS = 10
SIGNUP_WINDOW = 3600

# KEYS: pair block, account count, address count. ARGV: account ceiling, address ceiling.
# Returns the milliseconds to wait (0: may try now).
_WAIT = """
local wait = redis.call('PTTL', KEYS[1])
if wait < 0 then wait = 0 end
local ceilings = {tonumber(ARGV[1]), tonumber(ARGV[2])}
for i = 2, 3 do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= ceilings[i - 1] then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then ttl = 1000 end
    if ttl > wait then wait = ttl end
  end
end
return wait
"""

# KEYS: pair count, pair block, account count, address count.
# ARGV: pair window, free failures, max delay, account window, address window.
# Returns the seconds the pair must now wait (0: none).
_RECORD = """
local pair = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
for i = 3, 4 do
  redis.call('INCR', KEYS[i])
  if redis.call('TTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], ARGV[i + 1]) end
end
local over = pair - tonumber(ARGV[2])
if over <= 0 then return 0 end
local delay = tonumber(ARGV[3])
if over < 20 then delay = math.min(delay, 2 ^ over) end
redis.call('SET', KEYS[2], '1', 'EX', delay)
return delay
"""


# KEYS: the counter. ARGV: window, limit. Returns the milliseconds to wait (0: counted, may go on).
_FIXED_WINDOW = """
local count = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if count <= tonumber(ARGV[2]) then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 1000 end
return ttl
"""


class SigninThrottle:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = f"{prefix}:signin"

    def _keys(self, email: str, address: str) -> dict[str, str]:
        account = hashlib.sha256(email.encode()).hexdigest()[:32]
        where = hashlib.sha256(address.encode()).hexdigest()[:16]
        return {
            "pair": f"{self.prefix}:pair:{account}:{where}",
            "block": f"{self.prefix}:block:{account}:{where}",
            "account": f"{self.prefix}:account:{account}",
            "address": f"{self.prefix}:addr:{where}",
        }

    async def wait(self, email: str, address: str) -> int | None:
        """Whole seconds until this account may be tried from this address, or None for now."""
        keys = self._keys(email, address)
        script = self.redis.register_script(_WAIT)  # EVALSHA, falling back to EVAL once
        millis = int(
            await script(
                keys=[keys["block"], keys["account"], keys["address"]], args=[ACCOUNT_FAILURES, ADDRESS_FAILURES]
            )
        )
        return None if millis <= 0 else max(1, -(-millis // 1000))

    async def record_failure(self, email: str, address: str) -> int:
        """Count a failure; the seconds this pair must now wait before its next try."""
        keys = self._keys(email, address)
        script = self.redis.register_script(_RECORD)
        delay = await script(
            keys=[keys["pair"], keys["block"], keys["account"], keys["address"]],
            args=[PAIR_WINDOW, PAIR_FREE_FAILURES, MAX_DELAY, ACCOUNT_WINDOW, ADDRESS_WINDOW],
        )
        return int(delay)

    async def clear(self, email: str, address: str) -> None:
        """After a success from this address: its delay is over. The account-wide count stays, so a
        botnet's progress is not reset by the owner signing in."""
        keys = self._keys(email, address)
        await self.redis.delete(keys["pair"], keys["block"])

    async def signup_wait(self, address: str) -> int | None:
        """Count a sign-up from `address`; None when it may go on, else whole seconds to wait."""
        where = hashlib.sha256(address.encode()).hexdigest()[:16]
        script = self.redis.register_script(_FIXED_WINDOW)
        millis = int(await script(keys=[f"{self.prefix}:signup:{where}"], args=[SIGNUP_WINDOW, SIGNUP_PER_ADDRESS]))
        return None if millis <= 0 else max(1, -(-millis // 1000))
