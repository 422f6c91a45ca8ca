"""Hardware profiles: what a chip is made of and what each event costs.

>>> import neurosim
>>> p = neurosim.load_profile("rram_hfo2")
>>> p.replace({"device.endurance_cycles": 1e5}).device.endurance_cycles
100000.0
"""

from .costs import Costs
from .loader import Profile, costs_table, fields_table, load_profile_file, profile_from_dict
from .registry import DEFAULT_PROFILE, list_profiles, load_profile, shipped_profile_path
from .schema import AuxMemorySpec, ChipSpec, CoreSpec, CrossbarSpec, DeviceSpec, PeripherySpec, WritePolicySpec

__all__ = ["Profile", "load_profile", "list_profiles", "load_profile_file", "profile_from_dict", "fields_table",
           "shipped_profile_path", "DEFAULT_PROFILE", "DeviceSpec", "CrossbarSpec", "PeripherySpec", "CoreSpec",
           "ChipSpec", "AuxMemorySpec", "WritePolicySpec", "Costs", "costs_table"]
