"""The API versions Patron speaks, selected per request by `Sequence-Version`.

Each version is one module in `wire/` that states how it differs from its newer neighbour;
services never learn which version is speaking.
"""

from __future__ import annotations

from patron.api.wire.v2024_01_01 import V20240101
from patron.api.wire.v2024_05_09 import V20240509
from patron.api.wire.v2024_07_30 import V20240730
from patron.domain.errors import PatronError

# The newest version is the base every older one describes itself against.
ApiVersion = V20240730

VERSION_HEADER = "Sequence-Version"

LATEST = V20240730()
VERSIONS: dict[str, ApiVersion] = {v.name: v for v in (LATEST, V20240509(), V20240101())}


class UnrecognisedApiVersion(PatronError):
    type = "UnrecognisedApiVersion"

    def __init__(self) -> None:
        super().__init__(
            "No matching API version found. Please make sure the specified API version is valid."
        )


def resolve(header: str | None, pinned: str | None) -> ApiVersion:
    """The header's version, else the credential's pinned one, else the latest."""
    name = header if header is not None else pinned
    if name is None:
        return LATEST
    version = VERSIONS.get(name.strip())
    if version is None:
        raise UnrecognisedApiVersion()
    return version
