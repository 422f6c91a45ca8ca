"""neurosim: simulate edge neuromorphic chips on non-volatile memory.

Every weight write is a counted, priced, wearing event. Start with :func:`load_profile`, the simulated memory
:class:`NVMArray` and the event :class:`Ledger`.
"""

from ._blas import pin_blas_kernel

pin_blas_kernel()  # before anything imports numpy: same seed, same numbers on every machine (see _blas.py)

from ._version import __version__  # noqa: E402
from .errors import (DataError, LedgerError, MappingError, ModelError, NeurosimError, ProfileError,
                     WriteRequestError)
from .nn import Model, list_models, load_model
from .chip import Chip, InferenceReport
from .ledger import EnergyReport, Ledger, price
from .memory import NVMArray
from .profiles import Profile, list_profiles, load_profile

__all__ = ["__version__", "load_profile", "list_profiles", "Profile", "NeurosimError", "ProfileError",
           "LedgerError", "MappingError", "DataError", "WriteRequestError",
           "Ledger", "EnergyReport", "price", "NVMArray", "ModelError", "Model", "load_model", "list_models",
           "Chip", "InferenceReport"]
