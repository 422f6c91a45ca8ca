"""neurosim: simulate edge neuromorphic chips on non-volatile memory.

Every weight write is a counted, priced, wearing event. Start with :func:`load_profile`, the simulated memory
:class:`NVMArray` and the event :class:`Ledger`.
"""

from ._version import __version__
from .errors import DataError, LedgerError, MappingError, NeurosimError, ProfileError, WriteRequestError
from .ledger import EnergyReport, Ledger, price
from .memory import NVMArray
from .profiles import Profile, list_profiles, load_profile

__all__ = ["__version__", "load_profile", "list_profiles", "Profile", "NeurosimError", "ProfileError",
           "LedgerError", "MappingError", "DataError", "WriteRequestError",
           "Ledger", "EnergyReport", "price", "NVMArray"]
