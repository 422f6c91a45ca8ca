"""neurosim: simulate edge neuromorphic chips on non-volatile memory.

Every weight write is a counted, priced, wearing event. Start with :func:`load_profile`, the simulated memory
:class:`NVMArray` and the event :class:`Ledger`.
"""

from ._blas import pin_blas_kernel

pin_blas_kernel()  # before anything imports numpy: same seed, same numbers on every machine (see _blas.py)

from ._version import __version__  # noqa: E402
from .chip import Chip, WriteRequest  # noqa: E402
from .errors import (  # noqa: E402
                     DataError,
                     ExecutorError,
                     LedgerError,
                     MappingError,
                     ModelError,
                     NeurosimError,
                     ProfileError,
                     WriteRequestError,
)
from .ledger import EnergyReport, Ledger, price  # noqa: E402
from .memory import NVMArray  # noqa: E402
from .nn import Model, list_models, load_model  # noqa: E402
from .profiles import Profile, list_profiles, load_profile  # noqa: E402
from .record import InferenceReport, RunRecord, load_record  # noqa: E402

__all__ = ["__version__", "load_profile", "list_profiles", "Profile", "NeurosimError", "ProfileError",
           "LedgerError", "MappingError", "DataError", "WriteRequestError",
           "Ledger", "EnergyReport", "price", "NVMArray", "ModelError", "Model", "load_model", "list_models",
           "Chip", "WriteRequest", "InferenceReport", "RunRecord", "load_record", "ExecutorError"]
