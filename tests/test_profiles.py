"""Unit tests of hardware-profile loading: shipped profiles, SI units, replace(), strict validation, base files."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurosim
from neurosim import ProfileError
from neurosim.profiles import load_profile_file, profile_from_dict, shipped_profile_path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = neurosim.list_profiles()
EXPECTED_SHIPPED = {"fefet", "ideal", "isaac_like", "loihi_like", "pcm", "rram_hfo2", "sram", "stt_mram",
                   "truenorth_like"}

# File unit suffix -> (SI attribute suffix, factor), written out here independently of neurosim.profiles.schema.
FILE_UNITS = {"_pj": ("_j", 1e-12), "_fj": ("_j", 1e-15), "_ns": ("_s", 1e-9), "_mhz": ("_hz", 1e6),
              "_kib": ("_bytes", 1024.0), "_us": ("_siemens", 1e-6), "_nm": ("_m", 1e-9), "_um2": ("_m2", 1e-12),
              "_uw": ("_w", 1e-6), "_ff_per_um": ("_f_per_m", 1e-9),
              "_nw_per_kib": ("_w_per_byte", 1e-9 / 1024), "_um2_per_kib": ("_m2_per_byte", 1e-12 / 1024)}


# ------------------------------------------------------------------------------------------------------ helpers
def _toml_value(v) -> str:
    """Minimal TOML writer for the test files (independent of Profile.to_toml)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    raise TypeError(v)


def dump_toml(raw: dict) -> str:
    lines = [f"{k} = {_toml_value(v)}" for k, v in raw.items() if not isinstance(v, dict)]
    for section, table in raw.items():
        if isinstance(table, dict):
            lines += ["", f"[{section}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def rram_raw() -> dict:
    return tomllib.loads((ROOT / "hardware_profiles" / "rram_hfo2.toml").read_text())


def write(tmp_path: Path, raw: dict, name: str = "user.toml") -> Path:
    path = tmp_path / name
    path.write_text(dump_toml(raw), encoding="utf-8")
    return path


def load_error(path: Path) -> ProfileError:
    with pytest.raises(ProfileError) as info:
        neurosim.load_profile(path)
    return info.value


# ----------------------------------------------------------------------------------------------- shipped profiles
def test_shipped_profile_names():
    assert set(SHIPPED) == EXPECTED_SHIPPED
    assert SHIPPED == sorted(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profile_loads_by_name_and_by_path(name):
    by_name = neurosim.load_profile(name)
    assert isinstance(by_name, neurosim.Profile)
    assert by_name.name == name  # the name inside each shipped file matches its file name
    assert by_name.description
    path = shipped_profile_path(name)
    assert path.is_file()
    for other in (neurosim.load_profile(path), neurosim.load_profile(str(path)), load_profile_file(path),
                  neurosim.load_profile(ROOT / "hardware_profiles" / f"{name}.toml")):
        assert other == by_name
        assert other.content_hash == by_name.content_hash
    assert neurosim.load_profile(by_name) is by_name


@pytest.mark.parametrize("name", SHIPPED)
def test_every_field_is_converted_to_si_exactly_once(name):
    profile = neurosim.load_profile(name)
    raw = tomllib.loads(shipped_profile_path(name).read_text())
    assert profile.to_dict() == raw  # to_dict keeps file keys and file units
    checked = 0
    for section, table in raw.items():
        if not isinstance(table, dict):
            assert getattr(profile, section) == table
            continue
        spec = getattr(profile, section)
        for key, value in table.items():
            attr, factor = key, 1.0
            matches = [suffix for suffix in FILE_UNITS if key.endswith(suffix)]
            if matches:  # the longest unit suffix ("_um2_per_kib" before "_kib")
                suffix = max(matches, key=len)
                si_suffix, factor = FILE_UNITS[suffix]
                attr = key[: -len(suffix)] + si_suffix
            got = getattr(spec, attr)
            if isinstance(value, (str, bool)):
                assert got == value
            elif isinstance(value, int) and factor == 1.0 and not isinstance(got, float):
                assert type(got) is int and got == value
            else:
                assert isinstance(got, float)
                assert got == float(value) * factor, f"{section}.{key}"
            checked += 1
    # every key of the file was checked; the keys it leaves out are exactly the unpinned costs
    assert checked == sum(len(raw[s]) for s in raw if isinstance(raw[s], dict))
    for s in raw:
        if isinstance(raw[s], dict):
            for f in dataclasses.fields(getattr(profile, s)):
                if getattr(getattr(profile, s), f.name) is None:
                    assert f.metadata["pin"], f"{s}.{f.name}"


def test_rram_units_are_si():
    p = neurosim.load_profile("rram_hfo2")
    assert p.device.set_energy_j == 0.6e-12
    assert p.device.read_energy_j is None  # not pinned: derived
    assert p.costs.read_energy_j == pytest.approx(0.01e-12, rel=1e-4)  # V^2 G t = 0.31623^2 x 10 uS x 10 ns
    assert p.device.on_conductance_siemens == pytest.approx(10e-6, rel=1e-15) and p.device.read_voltage_v == 0.31623
    assert p.device.read_latency_s == 10e-9
    assert p.device.drift_t0_s == 1.0
    assert p.chip.clock_hz == 500e6
    assert p.aux_memory.capacity_bytes == 256 * 1024
    assert p.costs.adc_energy_j == pytest.approx(0.078e-12, rel=1e-12)
    assert p.crossbar.wire_segment_ohm == 1.0 and p.chip.feature_size_m == pytest.approx(22e-9, rel=1e-15)
    assert p.crossbar.rows == 128 and isinstance(p.crossbar.rows, int)
    # the file units are kept in to_dict and to_toml: no second conversion on a round trip
    assert p.to_dict()["device"]["set_energy_pj"] == 0.6
    assert p.to_dict()["chip"]["clock_mhz"] == 500.0
    again = profile_from_dict(tomllib.loads(p.to_toml()))
    assert again.device.set_energy_j == 0.6e-12 and again.chip.clock_hz == 500e6


# ------------------------------------------------------------------------------------------------------ replace
def test_replace_returns_new_validated_profile_and_leaves_original_unchanged():
    p = neurosim.load_profile("rram_hfo2")
    before_hash, before_dict = p.content_hash, p.to_dict()
    q = p.replace({"device.endurance_cycles": 1e5})
    assert isinstance(q, neurosim.Profile) and q is not p
    assert q.device.endurance_cycles == 1e5
    assert q.to_dict()["device"]["endurance_cycles"] == 1e5
    assert q.content_hash != before_hash
    assert q != p
    # untouched fields are unchanged and not converted twice
    assert q.device.set_energy_j == p.device.set_energy_j == 0.6e-12
    assert q.chip == p.chip and q.crossbar == p.crossbar
    # the original (and the cached shipped copy) is unchanged
    assert p.device.endurance_cycles == 1e6
    assert p.content_hash == before_hash and p.to_dict() == before_dict
    assert neurosim.load_profile("rram_hfo2").device.endurance_cycles == 1e6


def test_replace_keyword_form_equals_mapping_form():
    p = neurosim.load_profile("rram_hfo2")
    a = p.replace({"device.endurance_cycles": 1e5, "periphery.adc_bits": 4})
    b = p.replace(**{"device.endurance_cycles": 1e5, "periphery.adc_bits": 4})
    c = p.replace({"device.endurance_cycles": 1e5}, **{"periphery.adc_bits": 4})
    assert a == b == c
    assert a.content_hash == b.content_hash == c.content_hash != p.content_hash
    assert a.periphery.adc_bits == 4
    assert p.replace(description="other").description == "other"
    assert p.replace({}) == p and p.replace({}).content_hash == p.content_hash


def test_replace_validates_the_new_value():
    p = neurosim.load_profile("rram_hfo2")
    with pytest.raises(ProfileError) as info:
        p.replace({"periphery.adc_bits": 33})
    err = info.value
    assert err.file == "<rram_hfo2 + replace>"
    assert err.key == "periphery.adc_bits" and err.value == 33
    assert str(err).startswith("<rram_hfo2 + replace>: ")
    with pytest.raises(ProfileError, match="cells_per_weight"):
        p.replace({"crossbar.cells_per_weight": 3})


@pytest.mark.parametrize("typo, closest", [
    ("device.endurance_cycle", "device.endurance_cycles"),
    ("device.set_energy_j", "device.set_energy_pj"),
    ("crossbar.row", "crossbar.rows"),
    ("periphery.adc_bit", "periphery.adc_bits"),
])
def test_replace_unknown_key_suggests_closest(typo, closest):
    p = neurosim.load_profile("rram_hfo2")
    for call in (lambda: p.replace({typo: 1}), lambda: p.replace(**{typo: 1})):
        with pytest.raises(ProfileError) as info:
            call()
        err = info.value
        assert "unknown key" in str(err)
        assert f"did you mean {closest!r}" in str(err)
        assert err.key == typo and err.value == 1 and err.file == "<rram_hfo2 + replace>"
    assert p.device.endurance_cycles == 1e6


@pytest.mark.parametrize("key", ["device", "base", "device.levels.x", "nothing_like_it_at_all_0123456789"])
def test_replace_rejects_non_leaf_keys(key):
    with pytest.raises(ProfileError) as info:
        neurosim.load_profile("rram_hfo2").replace({key: 1})
    assert info.value.key == key and "unknown key" in str(info.value)


# ------------------------------------------------------------------------------------------------ strict errors
def _set(raw, dotted, value):
    section, key = dotted.split(".")
    raw[section][key] = value


# (description, dotted key, bad value, expected constraint)
BAD_VALUES = [
    ("string for a number", "device.set_energy_pj", "0.6", "a finite number in [0, 1e+06]"),
    ("nan", "device.set_energy_pj", math.nan, "a finite number in [0, 1e+06]"),
    ("infinity", "device.read_latency_ns", math.inf, "a finite number in (0, 1e+09]"),
    ("zero read latency", "device.read_latency_ns", 0.0, "a finite number in (0, 1e+09]"),
    ("zero set latency", "device.set_latency_ns", 0, "a finite number in (0, 1e+09]"),
    ("zero pinned tick", "core.tick_ns", 0.0, "a finite number in (0, 1e+12]"),
    ("negative energy", "device.reset_energy_pj", -0.6, "a finite number in [0, 1e+06]"),
    ("zero-sized crossbar", "crossbar.rows", 0, "an integer in [1, 65536]"),
    ("adc bits 0", "periphery.adc_bits", 0, "an integer in [1, 32]"),
    ("adc bits 33", "periphery.adc_bits", 33, "an integer in [1, 32]"),
    ("bool for a number", "device.levels", True, "an integer in [2, 256]"),
    ("bool for a float", "device.on_off_ratio", False, "a finite number in [1, 1e+12]"),
    ("float for an integer", "crossbar.cols", 128.0, "an integer in [1, 65536]"),
    ("zero clock", "chip.clock_mhz", 0.0, "a finite number in [1e-06, 100000]"),
    ("bad choice", "device.technology", "unobtainium", "one of 'rram', 'pcm', 'stt_mram', 'fefet', 'sram', "
                                                        "'flash', 'generic'"),
    ("number for a choice", "write_policy.mode", 1, "one of 'skip_unchanged', 'always'"),
    ("columns_per_adc > cols", "periphery.columns_per_adc", 256, "<= crossbar.cols (128)"),
    ("stuck rates sum above 1", "device.stuck_at_high_rate", 0.5,
     "device.stuck_at_low_rate + device.stuck_at_high_rate < 1"),
    ("stuck rates sum to 1", "device.stuck_at_high_rate", 0.5,
     "device.stuck_at_low_rate + device.stuck_at_high_rate < 1"),
    ("odd cells_per_weight, differential pair", "crossbar.cells_per_weight", 3,
     "even for weight_encoding 'differential_pair'"),
]


@pytest.mark.parametrize("what, key, value, constraint", BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_bad_value_in_file_names_file_key_constraint_and_value(tmp_path, what, key, value, constraint):
    raw = rram_raw()
    _set(raw, key, value)
    if what == "stuck rates sum above 1":
        raw["device"]["stuck_at_low_rate"] = 0.6
    if what == "stuck rates sum to 1":  # every cell dead: refused, naming both keys
        raw["device"]["stuck_at_low_rate"] = 0.5
    path = write(tmp_path, raw)
    err = load_error(path)
    msg = str(err)
    assert err.file == str(path)
    assert err.key == key
    assert err.constraint == constraint
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(err.value)
    else:
        assert err.value == value and type(err.value) is type(value)
    assert msg.startswith(f"{path}: ")
    assert repr(key) in msg
    assert constraint in msg
    assert f"(got {value!r})" in msg
    if what.startswith("bool"):
        assert "not bool" in msg
    if what == "float for an integer":
        assert "not a float" in msg


def test_unknown_key_in_file(tmp_path):
    raw = rram_raw()
    raw["device"]["set_energy_pJ"] = 0.6
    path = write(tmp_path, raw)
    err = load_error(path)
    assert err.file == str(path)
    assert err.key == "device.set_energy_pJ"
    assert err.constraint == "a key listed in the schema"
    assert err.value == 0.6
    assert str(err).startswith(f"{path}: unknown key 'device.set_energy_pJ'")
    assert "did you mean 'device.set_energy_pj'" in str(err)


def test_unknown_top_level_key_in_file(tmp_path):
    raw = rram_raw()
    raw["descripton"] = "typo"
    path = write(tmp_path, raw)
    err = load_error(path)
    assert err.file == str(path) and err.key == "descripton" and err.value == "typo"
    assert err.constraint == "a top-level key or section of the schema"
    assert "unknown key 'descripton'" in str(err) and "did you mean 'description'" in str(err)


def test_unknown_key_message_names_constraint_and_value(tmp_path):
    raw = rram_raw()
    raw["device"]["set_energy_pJ"] = 0.625
    err = load_error(write(tmp_path, raw))
    assert err.constraint in str(err)
    assert "0.625" in str(err)


@pytest.mark.parametrize("section, key", [("device", "levels"), ("chip", "clock_mhz"), ("aux_memory", "capacity_kib"),
                                          (None, "name"), (None, "description")])
def test_missing_key(tmp_path, section, key):
    raw = rram_raw()
    del (raw[section] if section else raw)[key]
    path = write(tmp_path, raw)
    err = load_error(path)
    dotted = f"{section}.{key}" if section else key
    assert err.file == str(path) and err.key == dotted
    assert err.constraint == "required" and err.value is None
    assert str(err).startswith(f"{path}: missing key {dotted!r}")
    if section == "device":  # the message explains what the key is and its rule
        assert "an integer in [2, 256]" in str(err)


@pytest.mark.parametrize("section", ["device", "crossbar", "chip", "write_policy"])
def test_missing_section(tmp_path, section):
    raw = rram_raw()
    del raw[section]
    path = write(tmp_path, raw)
    err = load_error(path)
    assert err.file == str(path) and err.key == section
    assert err.constraint == "required" and err.value is None
    assert str(err) == f"{path}: missing section [{section}]"


def test_section_that_is_not_a_table(tmp_path):
    raw = rram_raw()
    del raw["crossbar"]
    path = tmp_path / "user.toml"
    path.write_text("crossbar = 5\n" + dump_toml(raw))
    err = load_error(path)
    assert err.file == str(path) and err.key == "crossbar" and err.value == 5
    assert "must be a table [crossbar], not int" in str(err)


@pytest.mark.parametrize("name", ["", "a b", "-lead", ".lead", "x" * 65, "bad/slash", "é"])
def test_invalid_profile_name(name):
    raw = neurosim.load_profile("rram_hfo2").to_dict()
    raw["name"] = name
    with pytest.raises(ProfileError) as info:
        profile_from_dict(raw, source="mem")
    assert info.value.key == "name" and info.value.value == name and str(info.value).startswith("mem: ")


@pytest.mark.parametrize("name", ["a", "x" * 64, "my_chip-2.v1", "_x"])
def test_valid_profile_name(name):
    raw = neurosim.load_profile("rram_hfo2").to_dict()
    raw["name"] = name
    assert profile_from_dict(raw).name == name


def test_profile_name_with_trailing_newline_is_rejected():
    raw = neurosim.load_profile("rram_hfo2").to_dict()
    raw["name"] = "rram\n"
    with pytest.raises(ProfileError):
        profile_from_dict(raw)


# --------------------------------------------------------------------------------------------- unreadable files
def test_invalid_toml_syntax_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\n[device\nlevels = 2\n')
    for load in (neurosim.load_profile, load_profile_file):
        with pytest.raises(ProfileError) as info:
            load(path)
        assert info.value.file == str(path)
        assert str(info.value).startswith(f"{path}: not valid TOML")


def test_non_utf8_file_names_the_file(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(ProfileError) as info:
        neurosim.load_profile(path)
    assert info.value.file == str(path)
    assert str(info.value).startswith(f"{path}: not UTF-8")
    assert "byte 11" in str(info.value)


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "absent.toml"
    for arg in (path, str(path)):
        with pytest.raises(ProfileError) as info:
            neurosim.load_profile(arg)
        assert str(path) in str(info.value)
        assert "not found" in str(info.value)
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    assert info.value.file == str(path) and str(info.value).startswith(f"{path}: cannot read")


def test_directory_instead_of_file(tmp_path):
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    with pytest.raises(ProfileError) as info:
        load_profile_file(folder)
    assert info.value.file == str(folder)


def test_unknown_shipped_name_lists_shipped_profiles():
    with pytest.raises(ProfileError) as info:
        neurosim.load_profile("nope")
    msg = str(info.value)
    assert "unknown profile 'nope'" in msg
    for name in SHIPPED:
        assert name in msg
    assert info.value.value == "nope" and info.value.key == "profile"


# --------------------------------------------------------------------------------------------------- base files
def test_base_profile_with_one_override(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('base = "rram_hfo2"\n\n[device]\nendurance_cycles = 1e5\n')
    p = neurosim.load_profile(path)
    rram = neurosim.load_profile("rram_hfo2")
    assert p.device.endurance_cycles == 1e5
    assert p.name == "rram_hfo2" and p.source == str(path)
    expected = rram.replace({"device.endurance_cycles": 1e5})
    assert p == expected and p.content_hash == expected.content_hash
    assert "base" not in p.to_dict()
    assert rram.device.endurance_cycles == 1e6  # the cached shipped profile is untouched


def test_base_override_is_validated_and_names_the_user_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('base = "rram_hfo2"\n\n[periphery]\nadc_bits = 0\n')
    err = load_error(path)
    assert err.file == str(path) and err.key == "periphery.adc_bits" and err.value == 0


def test_base_relative_path_is_resolved_from_the_file_folder(tmp_path, monkeypatch):
    (tmp_path / "profiles" / "sub").mkdir(parents=True)
    parent = tmp_path / "profiles" / "parent.toml"
    parent.write_text('base = "pcm"\nname = "parent"\n\n[crossbar]\nrows = 64\n')
    sibling = tmp_path / "profiles" / "sibling.toml"
    sibling.write_text('base = "parent.toml"\nname = "sibling"\n\n[chip]\nclock_mhz = 250.0\n')
    child = tmp_path / "profiles" / "sub" / "child.toml"
    child.write_text('base = "../sibling.toml"\nname = "child"\n\n[device]\nendurance_cycles = 1e7\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # resolution must not depend on the working directory
    p = neurosim.load_profile(child)
    assert p.name == "child"
    assert p.device.endurance_cycles == 1e7
    assert p.chip.clock_hz == 250e6
    assert p.crossbar.rows == 64
    assert p.device.levels == 4 and p.device.technology == "pcm"
    assert neurosim.load_profile(sibling).device.endurance_cycles == 1e8


@pytest.mark.parametrize("files", [
    {"a.toml": 'base = "a.toml"\n'},
    {"a.toml": 'base = "b.toml"\n', "b.toml": 'base = "a.toml"\n'},
    {"a.toml": 'base = "b.toml"\n', "b.toml": 'base = "c.toml"\n', "c.toml": 'base = "a.toml"\n'},
], ids=["self", "two", "three"])
def test_base_cycle_is_a_profile_error_not_recursion(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    try:
        neurosim.load_profile(tmp_path / "a.toml")
    except ProfileError as err:
        assert err.key == "base"
        assert "cycle" in str(err)
        assert Path(err.file).parent == tmp_path
    else:
        pytest.fail("a base cycle was accepted")


@pytest.mark.parametrize("base, fragment", [('"nope"', "unknown profile 'nope'"),
                                            ('"missing.toml"', "profile file not found"),
                                            ("3", "must be a shipped profile name or a path")])
def test_bad_base(tmp_path, base, fragment):
    path = tmp_path / "mine.toml"
    path.write_text(f"base = {base}\n")
    err = load_error(path)
    assert err.file == str(path)
    assert fragment in str(err)


# ---------------------------------------------------------------------------------------- round trip and frozen
@pytest.mark.parametrize("name", SHIPPED)
def test_to_toml_reloads_to_an_equal_profile(tmp_path, name):
    p = neurosim.load_profile(name)
    path = tmp_path / f"{name}_copy.toml"
    path.write_text(p.to_toml())
    again = neurosim.load_profile(path)
    assert again == p
    assert again.content_hash == p.content_hash
    assert again.to_dict() == p.to_dict()
    q = p.replace({"device.endurance_cycles": 12345.0, "description": 'quote " and \\ backslash'})
    path.write_text(q.to_toml())
    again = neurosim.load_profile(path)
    assert again == q and again.content_hash == q.content_hash
    assert again.description == 'quote " and \\ backslash'


def test_to_toml_round_trips_non_bmp_description():
    q = neurosim.load_profile("rram_hfo2").replace(description="chip \U0001F600")
    assert profile_from_dict(tomllib.loads(q.to_toml())) == q


def test_content_hash_is_stable_and_sensitive():
    p = neurosim.load_profile("rram_hfo2")
    assert p.content_hash == neurosim.load_profile("ideal").replace(
        {k: v for k, v in _flat(p.to_dict()).items()}).content_hash
    assert len(p.content_hash) == 64 and int(p.content_hash, 16) >= 0
    assert p.replace(description="x").content_hash != p.content_hash


def _flat(raw):
    out = {}
    for k, v in raw.items():
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            out[k] = v
    return out


def test_profile_is_frozen():
    p = neurosim.load_profile("rram_hfo2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.name = "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.device = p.device
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.device.levels = 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.chip.clock_hz = 1.0
    # to_dict is a copy: editing it does not touch the profile
    d = p.to_dict()
    d["device"]["levels"] = 4
    assert p.device.levels == 2 and p.to_dict()["device"]["levels"] == 2
    assert p.name == "rram_hfo2"


def test_profile_from_dict_does_not_keep_caller_dict():
    raw = copy.deepcopy(neurosim.load_profile("rram_hfo2").to_dict())
    p = profile_from_dict(raw)
    raw["device"]["levels"] = 4
    assert p.to_dict()["device"]["levels"] == 2


def test_profile_from_dict_rejects_non_mapping():
    with pytest.raises(ProfileError) as info:
        profile_from_dict([1, 2], source="src")
    assert info.value.file == "src" and "not list" in str(info.value)


def test_sar_model_reproduces_the_calibration_of_the_shipped_profile():
    """rram_hfo2's ADC attributes give the DNN+NeuroSim 22 nm SAR figures it cites: 0.078 pJ and 9 ns at 8 bits."""
    from neurosim.profiles import components

    p = neurosim.load_profile("rram_hfo2").periphery
    assert components.adc_energy("sar", 8, p.adc_energy_per_step_j) == pytest.approx(0.078e-12, rel=1e-9)
    assert components.adc_latency("sar", 8, p.adc_clock_hz) == pytest.approx(9e-9, rel=1e-12)
    assert all(components.adc_energy("sar", b, 1.0) < components.adc_energy("sar", b + 1, 1.0) for b in range(1, 16))




# ------------------------------------------------------------------------------- hardening (issue "Hardening")
def test_long_names_and_paths_are_profile_errors_not_os_errors(tmp_path):
    """A 300-character name or path used to raise OSError errno 36 (file name too long)."""
    with pytest.raises(ProfileError, match="unknown profile 'aaaa"):
        neurosim.load_profile("a" * 300)
    long_path = tmp_path / ("a" * 300 + ".toml")
    for arg in (long_path, str(long_path)):
        with pytest.raises(ProfileError, match="file name too long"):
            neurosim.load_profile(arg)
    with pytest.raises(ProfileError, match="file name too long"):
        load_profile_file(long_path)
    for base in ("a" * 300, "a" * 300 + ".toml", "x/" * 3000 + "p.toml"):
        path = tmp_path / "user.toml"
        path.write_text(f'base = "{base}"\n')
        err = load_error(path)
        assert err.file == str(path) and err.key == "profile", str(err)


@pytest.mark.parametrize("name", ["rram_hfo2\x00", "rram\x00.toml", "../rram_hfo2"])
def test_names_with_nul_or_parent_folders_are_refused(name):
    with pytest.raises(ProfileError):
        neurosim.load_profile(name)


@pytest.mark.parametrize("text, fragment", [
    ("a = " + "[" * 10_000 + "]" * 10_000, "nested too deeply"),
    ("a = " + "{b = " * 5000 + "1" + "}" * 5000, "nested too deeply"),
    ("[" + ".".join(["t"] * 5000) + "]", "nest more than 16 levels deep"),
    ("a = " + "[" * 17 + "]" * 17, "nest more than 16 levels deep"),
    ("levels = 1" + "0" * 5000, "not valid TOML"),
])
def test_deeply_nested_or_huge_toml_is_a_profile_error_not_recursion(tmp_path, text, fragment):
    """Deep nesting used to raise RecursionError (in the parser, in repr, in deepcopy)."""
    path = tmp_path / "deep.toml"
    path.write_text(text + "\n")
    for load in (neurosim.load_profile, load_profile_file):
        with pytest.raises(ProfileError) as info:
            load(path)
        assert info.value.file == str(path) and fragment in str(info.value)


def test_oversized_profile_file_is_refused_before_reading_it_all(tmp_path, monkeypatch):
    from neurosim import _toml

    monkeypatch.setattr(_toml, "MAX_TOML_BYTES", 1000)
    path = tmp_path / "big.toml"
    path.write_text("# padding\n" * 200)
    with pytest.raises(ProfileError, match="larger than 1000 bytes"):
        neurosim.load_profile(path)


@pytest.mark.parametrize("kind", ["symlink_loop", "fifo", "dangling"])
def test_profile_paths_that_are_not_regular_files(tmp_path, kind):
    path = tmp_path / "p.toml"
    if kind == "symlink_loop":
        path.symlink_to(path.name)
    elif kind == "fifo":
        import os

        os.mkfifo(path)  # reading it would block for ever
    else:
        path.symlink_to("absent.toml")
    for load in (neurosim.load_profile, load_profile_file):
        with pytest.raises(ProfileError) as info:
            load(path)
        assert str(path) in str(info.value)


@pytest.mark.parametrize("changes, fragment", [
    ({1: 2}, "key 1 must be a dotted key of the profile file as a string"),
    ({("device", "levels"): 2}, "must be a dotted key of the profile file as a string"),
    ({"device.set_energy_pj": 10 ** 400}, "must be a finite number in [0, 1e+06]"),
    ({"description": "\ud800"}, "lone surrogate"),
    ({"device.levels": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}, "must be an integer"),
])
def test_replace_with_bad_keys_or_values_raises_profile_error(changes, fragment):
    """A non-string key used to raise AttributeError/TypeError; a huge int OverflowError."""
    with pytest.raises(ProfileError) as info:
        neurosim.load_profile("rram_hfo2").replace(changes)
    assert fragment in str(info.value) and str(info.value).startswith("<rram_hfo2 + replace>: ")


def test_replace_takes_a_mapping():
    with pytest.raises(ProfileError, match="takes a mapping"):
        neurosim.load_profile("rram_hfo2").replace([("device.levels", 4)])


def test_replace_with_numpy_scalars_equals_plain_values():
    """numpy scalars pass the rules; they used to break the canonical JSON (TypeError: not JSON serializable)."""
    import numpy as np

    p = neurosim.load_profile("rram_hfo2")
    plain = p.replace({"device.set_energy_pj": 0.5, "crossbar.rows": 64, "periphery.exact": True})
    numpy_ = p.replace({"device.set_energy_pj": np.float64(0.5), "crossbar.rows": np.int64(64),
                        "periphery.exact": np.bool_(True)})
    assert numpy_ == plain and numpy_.content_hash == plain.content_hash
    assert p.replace({"device.set_energy_pj": np.float32(0.5)}).device.set_energy_j == 0.5e-12


@pytest.mark.parametrize("key", ["device.read_latency_ns", "device.set_latency_ns", "device.reset_latency_ns",
                                 "core.tick_ns", "core.neuron_update_latency_ns"])
def test_zero_latencies_that_make_figures_meaningless_are_refused(key):
    """read_latency_ns = 0 gave throughput 0 and power nan in `infer`."""
    with pytest.raises(ProfileError) as info:
        neurosim.load_profile("rram_hfo2").replace({key: 0.0})
    assert info.value.key == key and info.value.constraint.startswith("a finite number in (0, ")


@pytest.mark.parametrize("key", ["periphery.dac_latency_ns", "periphery.adc_latency_ns",
                                 "chip.noc_latency_per_flit_hop_ns"])
def test_zero_latencies_with_a_meaning_are_accepted(key):
    p = neurosim.load_profile("rram_hfo2").replace({key: 0.0})
    assert p.to_dict()[key.split(".")[0]][key.split(".")[1]] == 0.0


def test_stuck_at_rates_summing_to_one_name_both_keys():
    with pytest.raises(ProfileError) as info:
        neurosim.load_profile("rram_hfo2").replace({"device.stuck_at_low_rate": 0.25,
                                                    "device.stuck_at_high_rate": 0.75})
    msg = str(info.value)
    assert "device.stuck_at_low_rate" in msg and "device.stuck_at_high_rate" in msg and "< 1" in msg
    assert neurosim.load_profile("rram_hfo2").replace({"device.stuck_at_low_rate": 0.25,
                                                       "device.stuck_at_high_rate": 0.7}) is not None


# ----------------------------------------------------------------------------------------------- profile_errors
def test_profile_errors_reports_every_error_first_one_as_load_raises(tmp_path):
    from neurosim.profiles.loader import profile_errors

    raw = rram_raw()
    raw["device"]["set_energy_pj"] = -1.0                 # bad value
    raw["device"]["levelz"] = 2                           # unknown key
    del raw["crossbar"]["rows"]                           # missing key
    raw["periphery"]["adc_bits"] = "eight"                # wrong type
    raw["periphery"]["columns_per_adc"] = 4096            # cross-check against crossbar.cols
    raw["device"]["stuck_at_low_rate"] = 0.6              # cross-check between two keys
    raw["device"]["stuck_at_high_rate"] = 0.6
    raw["bogus"] = 1                                      # unknown top-level key
    path = write(tmp_path, raw)
    errors = profile_errors(path)
    keys = [e.key for e in errors]
    assert keys == ["bogus", "device.levelz", "device.set_energy_pj", "crossbar.rows", "periphery.adc_bits",
                    "device.stuck_at_high_rate", "periphery.columns_per_adc"], keys
    assert all(isinstance(e, ProfileError) and e.file == str(path) for e in errors)
    assert str(errors[0]) == str(load_error(path))
    # a cross-check runs when the keys it reads are valid, however broken their sections are otherwise
    assert "device.stuck_at_low_rate is 0.6" in str(errors[5]) and "<= crossbar.cols (128)" in str(errors[6])


def test_profile_errors_of_valid_unreadable_and_base_less_files(tmp_path):
    from neurosim.profiles.loader import profile_errors

    assert profile_errors(shipped_profile_path("rram_hfo2")) == []
    good = tmp_path / "good.toml"
    good.write_text('base = "pcm"\nname = "mine"\n')
    assert profile_errors(good) == []
    absent = tmp_path / "absent.toml"
    with pytest.raises(ProfileError) as info:
        load_profile_file(absent)
    assert [str(e) for e in profile_errors(absent)] == [str(info.value)]
    broken = tmp_path / "broken.toml"
    broken.write_text("[device\n")
    assert len(profile_errors(broken)) == 1 and "not valid TOML" in str(profile_errors(broken)[0])
    orphan = tmp_path / "orphan.toml"
    orphan.write_text('base = "nope"\nname = "bad name!"\n\n[device]\nlevels = 1\nbogus = 2\n')
    errors = profile_errors(orphan)
    assert [e.key for e in errors] == ["profile", "name", "device.bogus", "device.levels"]  # no missing keys
    assert "unknown profile 'nope'" in str(errors[0]) and str(errors[0]) == str(load_error(orphan))


def test_profile_errors_stops_at_max_errors_and_a_load_at_the_first(tmp_path):
    """A file of thousands of bad keys: the first error is raised at once, the report stops at max_errors."""
    import time

    from neurosim.profiles.loader import profile_errors

    path = tmp_path / "garbage.toml"
    path.write_text("".join(f"k{i} = 1\n" for i in range(20_000)) + 'base = "rram_hfo2"\n')
    start = time.perf_counter()
    assert load_error(path).key == "k0"
    assert [e.key for e in profile_errors(path, max_errors=3)] == ["k0", "k1", "k2"]
    assert len(profile_errors(path)) == 200
    assert time.perf_counter() - start < 10  # (collecting all 20,000 with suggestions took minutes)


# ------------------------------------------------------------------------------------------ round trip (tomli-w)
ROUND_TRIP = settings(max_examples=40, deadline=None, derandomize=True, database=None)


@pytest.mark.parametrize("name", SHIPPED)
@ROUND_TRIP
@given(data=st.data())
def test_to_toml_round_trips_any_valid_change(name, data):
    """to_toml (tomli-w) reads back to the same values: any description, any in-range number (1e+18, 5e-324, ...)."""
    from neurosim.profiles.schema import SECTIONS, section_fields

    p = neurosim.load_profile(name)
    changes = {"description": data.draw(st.text(max_size=60), label="description")}
    for _ in range(data.draw(st.integers(0, 4), label="changes")):
        section = data.draw(st.sampled_from(list(SECTIONS)), label="section")
        key, f = data.draw(st.sampled_from(list(section_fields(section).items())), label="key")
        m = f.metadata
        if m["kind"] == "float":
            value = data.draw(st.floats(m["lo"], m["hi"], exclude_min=m["lo_open"]), label=key)
        elif m["kind"] == "int":
            value = data.draw(st.integers(int(m["lo"]), int(m["hi"])), label=key)
        else:
            continue
        changes[f"{section}.{key}"] = value
    try:
        q = p.replace(changes)
    except ProfileError:
        return  # a cross-check refused the combination: nothing to write
    again = profile_from_dict(tomllib.loads(q.to_toml()), source="round trip")
    assert again == q and again.content_hash == q.content_hash and again.to_dict() == q.to_dict()
