"""The wheel carries every file the packages read at run time (pages, static folders, migrations, risk rules).

pyproject.toml finds the packages (by include patterns) and lists, for each, the data files that go with them;
a file in a package folder that neither is one of its modules nor matches one of those patterns is missing from
the installed gateway (what the Dockerfile installs). .ci/wheel-smoke proves the same on a real wheel.
"""

from __future__ import annotations

import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent


def _matches(relative: str, pattern: str) -> bool:
    """Glob matching as setuptools does it: ``*`` stays within one folder."""
    parts, wanted = relative.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(fnmatchcase(p, w) for p, w in zip(parts, wanted, strict=True))


def shipped_packages(root: Path = ROOT) -> list[str]:
    """The packages the wheel ships, found as setuptools finds them (pyproject.toml's include patterns)."""
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    return sorted(find_packages(where=str(root), include=config["packages"]["find"]["include"]))


def test_every_file_of_the_packages_goes_into_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    packages = shipped_packages()
    missing = []
    for package in packages:
        folder = ROOT / package.replace(".", "/")
        patterns = config.get("package-data", {}).get(package, [])
        subpackages = [ROOT / p.replace(".", "/") for p in packages if p.startswith(package + ".")]
        for path in folder.rglob("*"):
            if path.is_dir() or "__pycache__" in path.parts:
                continue
            if any(path.is_relative_to(sub) for sub in subpackages):
                continue  # a listed subpackage (channels.webchat) packs its own modules and data
            relative = path.relative_to(folder).as_posix()
            owner = path.parent.relative_to(ROOT).as_posix().replace("/", ".")
            is_module = path.suffix == ".py" and owner == package
            if not is_module and not any(_matches(relative, pattern) for pattern in patterns):
                missing.append(f"{folder.relative_to(ROOT).as_posix()}/{relative}")
    assert missing == [], f"not in the wheel (add to [tool.setuptools.package-data]): {missing}"
