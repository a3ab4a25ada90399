"""Print the requirements of the project and the extras named in ``EXTRAS``, one per line.

The Dockerfile installs these before it copies the sources, so the dependency layer is rebuilt
only when ``pyproject.toml`` or the extras change, not on every code edit. A script rather
than a Dockerfile heredoc: heredocs need BuildKit's external frontend, which an offline
engine cannot pull (README, "Docker").

    python3 scripts/docker_requirements.py pyproject.toml dask,benchmark > requirements.txt
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: str) -> list[str]:
    """The core dependencies, then those of each extra in ``extras`` (comma-separated)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    offered: dict[str, list[str]] = project.get("optional-dependencies", {})
    names = [name.strip() for name in extras.split(",") if name.strip()]
    unknown = [name for name in names if name not in offered]
    if unknown:
        raise ValueError(
            f"build argument EXTRAS: {', '.join(unknown)} is not an extra of {pyproject}; "
            f"choose from {', '.join(sorted(offered))} (comma-separated, or empty for none)"
        )
    out = list(project["dependencies"])
    for name in names:
        out += [req for req in offered[name] if req not in out]
    return out


def main(argv: list[str]) -> int:
    """Exit 2 with one line on stderr for an unknown extra or a wrong call."""
    if len(argv) != 2:
        print("usage: docker_requirements.py PYPROJECT EXTRAS", file=sys.stderr)
        return 2
    try:
        lines = requirements(Path(argv[0]), argv[1])
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
