"""arq job payloads as JSON, never pickle.

arq pickles jobs by default, so anyone who can write to the queue's Redis could make a worker run code
of their choosing (OWASP ASVS 5.0 1.5.2). Every perpvol job takes only strings and numbers, so JSON
carries them all; a payload that is not JSON is rejected instead of executed.
"""

from __future__ import annotations

import json
from typing import Any


def serialize_job(data: dict[str, Any]) -> bytes:
    # Results can hold values JSON lacks (a Decimal, a dataclass): their text is enough for a log.
    return json.dumps(data, default=str, separators=(",", ":")).encode()


def deserialize_job(payload: bytes) -> dict[str, Any]:
    data = json.loads(payload)
    if not isinstance(data, dict):
        raise ValueError("an arq job payload must be a JSON object")
    return data


JOB_CODEC: dict[str, Any] = {"job_serializer": serialize_job, "job_deserializer": deserialize_job}
