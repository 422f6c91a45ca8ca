"""Where profiles live: the shipped folder (package data ``neurosim.hardware_profiles``) and name-or-path
resolution (used by the loader for ``base = ...`` and by :func:`~neurosim.profiles.registry.load_profile`)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import ProfileError

#: the profile every command and API uses when none is named (the one place it is written)
DEFAULT_PROFILE = "rram_hfo2"


def _shipped_folder() -> Path:
    # Installed (wheel or editable): package data neurosim.hardware_profiles. Imported straight from a source
    # checkout (e.g. `python -m pytest` puts the checkout first on sys.path): the top-level folder.
    try:
        return Path(str(resources.files("neurosim.hardware_profiles")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "hardware_profiles"


def list_profiles() -> list[str]:
    """Names of the shipped hardware profiles, sorted."""
    return sorted(p.stem for p in _shipped_folder().glob("*.toml"))


def shipped_profile_path(name: str) -> Path:
    """Path of the shipped profile ``name`` (raises :class:`ProfileError` if there is none)."""
    path = _shipped_folder() / f"{name}.toml"
    if not path.is_file():
        raise ProfileError(f"unknown profile {name!r}; shipped profiles are: {', '.join(list_profiles())} "
                           "(or give the path of a .toml file)", key="profile", constraint="a shipped name or a path",
                           value=name)
    return path


def looks_like_path(text: str) -> bool:
    return text.endswith(".toml") or "/" in text or "\\" in text


def resolve(name_or_path: str | Path, *, relative_to: Path | None = None, where: str | None = None) -> Path:
    """Turn a shipped profile name or a file path into a file path."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or looks_like_path(text):
        path = Path(text)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        if not path.is_file():
            raise ProfileError(f"profile file not found: {path}", file=where, key="profile",
                               constraint="an existing file", value=text)
        return path
    try:
        return shipped_profile_path(text)
    except ProfileError as exc:
        if where:
            raise ProfileError(str(exc), file=where, key=exc.key, constraint=exc.constraint, value=exc.value) from None
        raise


