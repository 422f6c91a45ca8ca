"""Shipped hardware profiles by name, parsed once: :func:`load_profile`, the default profile."""

from __future__ import annotations

import functools
from pathlib import Path

from .loader import Profile, load_profile_file
from .paths import DEFAULT_PROFILE, list_profiles, looks_like_path, resolve, shipped_profile_path


@functools.lru_cache(maxsize=64)
def _load_shipped(name: str) -> Profile:
    return load_profile_file(shipped_profile_path(name))


def load_profile(name_or_path: str | Path | Profile = DEFAULT_PROFILE) -> Profile:
    """Load a hardware profile by shipped name (``"rram_hfo2"``) or from a TOML file.

    Parameters
    ----------
    name_or_path : str, Path or Profile
        A shipped name (see :func:`list_profiles`), a path to a ``.toml`` file, or a Profile (returned as is).

    Returns
    -------
    Profile
        Frozen and validated; SI units.

    Raises
    ------
    ProfileError
        Unknown name, missing file, or invalid content (naming file, key, constraint and value).
    """
    if isinstance(name_or_path, Profile):
        return name_or_path
    if isinstance(name_or_path, str) and not looks_like_path(name_or_path):
        return _load_shipped(name_or_path)  # shipped profiles are frozen, so one parsed copy serves every caller
    return load_profile_file(resolve(name_or_path))


__all__ = ["DEFAULT_PROFILE", "load_profile", "list_profiles", "shipped_profile_path", "resolve"]
