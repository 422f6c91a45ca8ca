"""Property test: every invalid mutation of a shipped profile is rejected with a ProfileError, nothing else.

Each example takes a shipped profile's file dict (``profile.to_dict()``), applies one mutation that makes it invalid
(delete a key, add an unknown key, a value of the wrong type, NaN, +/-inf, negative, huge or out of range) and
validates it with ``profile_from_dict(raw, source="fuzz")``. The mutation must be refused with a ProfileError that
names the source, the key and the value; any other exception, or a silently accepted profile, fails the test.
"""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import neurosim
from neurosim import ProfileError
from neurosim.profiles import profile_from_dict
from neurosim.profiles.schema import SECTIONS, TOP_LEVEL_TEXT, section_fields

PROFILES = neurosim.list_profiles()
SOURCE = "fuzz"
FUZZ = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
NAME_RULE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")  # documented rule: 1-64 letters, digits, _ - .
ABSENT = object()  # "the error's value is None" marker for deletions

# ---------------------------------------------------------------------------------------------------- strategies
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
any_value = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
lists = st.lists(scalars, max_size=3)
tables = st.dictionaries(st.text(max_size=6), scalars, max_size=3)  # includes the empty table {}
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
huge = st.sampled_from([1e300, 10**30, -1e300, -(10**30), 1.7976931348623157e308])
non_tables = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), non_finite, huge, lists)
non_strings = st.one_of(non_tables, tables)


def bad_numbers(f: dataclasses.Field, current) -> st.SearchStrategy:
    """Values a numeric field must refuse."""
    m = f.metadata
    lo, hi = m["lo"], m["hi"]
    options = [
        st.text(max_size=8),                      # wrong type: string (also "1", "nan")
        lists, tables,                            # wrong type: array, table (also the empty table)
        st.booleans(),                            # a bool is never a number in a profile
        st.none(),                                # None-like
        non_finite,                               # NaN, +inf, -inf
        st.just(-abs(current) - 1),               # negative
        huge,                                     # 1e300, 10**30 and their negatives
        st.floats(min_value=hi, exclude_min=True, allow_nan=False),            # above the upper bound
        st.integers(min_value=int(hi) + 1),
        st.floats(max_value=lo, allow_nan=False).filter(                          # below the lower bound
            lambda v: v < lo or (m["lo_open"] and v == lo)),                      # (-0.0 == 0 is not below)
        st.integers(max_value=math.ceil(lo) - (0 if m["lo_open"] else 1)),
    ]
    if m["kind"] == "int":
        options.append(st.floats())               # any float, even 128.0, where an integer is expected
    return st.one_of(options)


def bad_strings(section: str | None, key: str, f: dataclasses.Field | None) -> st.SearchStrategy:
    """Values a text field must refuse: never a string, except a string outside a choice or an invalid name."""
    options = [non_strings]
    if f is not None and f.metadata["kind"] == "choice":
        choices = f.metadata["choices"]
        options.append(st.text(max_size=12).filter(lambda s: s not in choices))
        options.append(st.sampled_from(choices).map(str.upper).filter(lambda s: s not in choices))
    if section is None and key == "name":
        options.append(st.text(max_size=70).filter(lambda s: not NAME_RULE.fullmatch(s)))
    return st.one_of(options)


def unknown_key(valid) -> st.SearchStrategy:
    near_misses = st.sampled_from(sorted(valid)).flatmap(
        lambda k: st.sampled_from([k + "_", k.upper(), k[:-1], k + "s", " " + k, k.replace("_", "-")]))
    return st.one_of(near_misses, st.text(max_size=12), st.just("base")).filter(lambda k: k not in valid)


@st.composite
def mutation(draw, raw: dict):
    """One invalid mutation of ``raw`` (modified in place). Returns (label, expected key, expected value)."""
    # bad values of leaf fields (39 numeric and choice fields) are drawn more often than the other mutations
    kind = draw(st.sampled_from(["delete_top", "delete_in_section", "unknown_top", "unknown_in_section",
                                 "bad_top_text", "bad_section"] + ["bad_leaf"] * 6))
    section = draw(st.sampled_from(list(SECTIONS)))
    fields = section_fields(section)
    if kind == "delete_top":
        key = draw(st.sampled_from(list(raw)))
        del raw[key]
        return kind, key, ABSENT
    if kind == "delete_in_section":  # a pinned cost is optional: deleting one hands it back to its model
        required = [k for k in raw[section] if not fields[k].metadata.get("pin")]
        key = draw(st.sampled_from(required))
        del raw[section][key]
        return kind, f"{section}.{key}", ABSENT
    if kind == "unknown_top":
        key = draw(unknown_key(set(SECTIONS) | set(TOP_LEVEL_TEXT)))
        raw[key] = value = draw(any_value)
        return kind, key, value
    if kind == "unknown_in_section":
        key = draw(unknown_key(set(fields)))
        raw[section][key] = value = draw(any_value)
        return kind, f"{section}.{key}", value
    if kind == "bad_leaf":
        key = draw(st.sampled_from(list(fields)))
        f = fields[key]
        if f.metadata["kind"] in ("int", "float"):
            value = draw(bad_numbers(f, raw[section].get(key, 1.0)))  # (an unpinned cost has no current value)
        elif f.metadata["kind"] == "bool":
            value = draw(any_value.filter(lambda v: not isinstance(v, bool)))
        else:
            value = draw(bad_strings(section, key, f))
        raw[section][key] = value
        return kind, f"{section}.{key}", value
    if kind == "bad_top_text":
        key = draw(st.sampled_from(list(TOP_LEVEL_TEXT)))
        raw[key] = value = draw(bad_strings(None, key, None))
        return kind, key, value
    # bad_section: anything but a table, the empty table, or a table of unknown keys only
    value = draw(st.one_of(non_tables, st.text(max_size=8),
                           st.just({}), st.dictionaries(unknown_key(set(fields)), scalars, min_size=1, max_size=2)))
    raw[section] = value
    return kind, section, value


def check_rejected(raw: dict, label: str, key: str, value) -> None:
    try:
        accepted = profile_from_dict(raw, source=SOURCE)
    except ProfileError as err:
        msg = str(err)
        assert msg.startswith(f"{SOURCE}: "), msg
        assert err.file == SOURCE
        if label == "bad_section" and isinstance(value, dict):
            assert err.key == key or err.key.startswith(key + "."), (err.key, key)
        else:
            assert err.key == key, (label, err.key, key, msg)
            if value is ABSENT:
                assert err.value is None and err.constraint == "required" and "missing" in msg
            else:
                assert err.value is value, (label, err.value, value)
        if label.startswith("unknown"):
            assert f"unknown key {key!r}" in msg
    except Exception as exc:
        pytest.fail(f"{label} at {key!r} = {value!r} raised {type(exc).__name__}: {exc}")
    else:
        pytest.fail(f"{label} at {key!r} = {value!r} was accepted: {accepted!r}")


# -------------------------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", PROFILES)
def test_unmutated_profile_is_accepted(name):
    """Control: the dict itself validates, so every rejection below is due to the mutation."""
    profile = neurosim.load_profile(name)
    again = profile_from_dict(profile.to_dict(), source=SOURCE)
    assert again == profile and again.content_hash == profile.content_hash and again.source == SOURCE


@pytest.mark.parametrize("name", PROFILES)
@FUZZ
@given(data=st.data())
def test_random_invalid_mutation_raises_profile_error(name, data):
    raw = neurosim.load_profile(name).to_dict()
    label, key, value = data.draw(mutation(raw), label="mutation")
    event(label)
    check_rejected(raw, label, key, value)


def test_schema_bounds_make_negative_and_huge_values_invalid():
    """The premise of the mutations: every numeric lower bound is >= 0 and every upper bound far below 1e300."""
    numeric = 0
    for section in SECTIONS:
        for key, f in section_fields(section).items():
            m = f.metadata
            if m["kind"] in ("int", "float"):
                numeric += 1
                assert m["lo"] >= 0, f"{section}.{key}"
                assert m["hi"] < 1e30 < 1e300, f"{section}.{key}"
                assert m["lo"] < m["hi"]
            else:
                assert m["kind"] in ("choice", "str", "bool")
    assert numeric >= 30


FIXED_BAD = [("string", "1"), ("empty string", ""), ("list", [1]), ("empty list", []), ("table", {"a": 1}),
             ("empty table", {}), ("true", True), ("false", False), ("none", None), ("nan", math.nan),
             ("inf", math.inf), ("-inf", -math.inf), ("1e300", 1e300), ("10**30", 10**30), ("-1e300", -1e300)]


@pytest.mark.parametrize("name", PROFILES)
def test_every_numeric_field_rejects_every_bad_value(name):
    """Exhaustive companion of the random test: every numeric field x every fixed bad value, plus negative."""
    base = neurosim.load_profile(name).to_dict()
    tried = 0
    for section in SECTIONS:
        for key, f in section_fields(section).items():
            if f.metadata["kind"] not in ("int", "float"):
                continue
            current = base[section].get(key, 1.0)  # (an unpinned cost has no current value)
            cases = FIXED_BAD + [("negative", -abs(current) - 1)]
            if f.metadata["kind"] == "int":
                cases.append(("float for int", float(current)))
            for label, value in cases:
                raw = neurosim.load_profile(name).to_dict()
                raw[section][key] = value
                check_rejected(raw, f"bad_leaf {label}", f"{section}.{key}", value)
                tried += 1
    assert tried >= 30 * len(FIXED_BAD)


@pytest.mark.parametrize("name", PROFILES)
def test_every_key_deletion_is_rejected(name):
    base = neurosim.load_profile(name).to_dict()
    tried = 0
    for top in base:
        raw = neurosim.load_profile(name).to_dict()
        del raw[top]
        check_rejected(raw, "delete_top", top, ABSENT)
        tried += 1
        if isinstance(base[top], dict):
            fields = section_fields(top)
            for key in base[top]:
                raw = neurosim.load_profile(name).to_dict()
                del raw[top][key]
                if fields[key].metadata.get("pin"):  # optional: its model takes over
                    assert profile_from_dict(raw, source=SOURCE).costs is not None
                else:
                    check_rejected(raw, "delete_in_section", f"{top}.{key}", ABSENT)
                tried += 1
    assert tried == len(base) + sum(len(v) for v in base.values() if isinstance(v, dict))


# ------------------------------------------------------------------------------- every error of a file at once
@pytest.mark.parametrize("name", PROFILES)
@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_profile_errors_reports_every_bad_key_of_a_file(tmp_path, name, data):
    """Several independent bad values written to one file: profile_errors names each of them, and its first error
    is the one load_profile_file raises."""
    import tomli_w

    from neurosim.profiles import load_profile_file
    from neurosim.profiles.loader import profile_errors

    raw = neurosim.load_profile(name).to_dict()
    numeric = [(s, k, f) for s in SECTIONS for k, f in section_fields(s).items()
               if f.metadata["kind"] in ("int", "float") and k in raw[s]]
    chosen = data.draw(st.lists(st.sampled_from(numeric), min_size=1, max_size=6,
                                unique_by=lambda t: (t[0], t[1])), label="keys")
    for section, key, f in chosen:
        raw[section][key] = data.draw(bad_numbers(f, raw[section][key]).filter(lambda v: v is not None
                                                                              and v != {} and v != []), label=key)
    path = tmp_path / f"{name}_bad.toml"
    try:
        path.write_text(tomli_w.dumps(raw))
    except (TypeError, ValueError):  # a value TOML cannot hold (a list of mixed None...)
        return
    errors = profile_errors(path)
    reported = {e.key for e in errors}
    assert {f"{s}.{k}" for s, k, _ in chosen} <= reported, (reported, chosen)
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    assert str(errors[0]) == str(info.value)
