"""neurochip: a bit-exact simulator of Loihi-style neuromorphic chips on Brian2.

Describe a network (:class:`Network`, :class:`Population`, :class:`Projection`,
:class:`SpikeInput`, :class:`Probe`), compile it onto chips
(:func:`compile_network` -> :class:`ChipProgram`), run it (:class:`Simulator`)
and read or save the :class:`Results`.
"""

__version__ = "0.1.0"

from neurochip.allocators import Allocator, Greedy, RoundRobin, TrafficAware
from neurochip.compiler import compile_network
from neurochip.errors import (
    BackendError,
    FileFormatError,
    NeurochipError,
    ResourceError,
    ValidationError,
)
from neurochip.learning import LearningRule
from neurochip.network import Network, Population, Probe, Projection, SpikeInput
from neurochip.presets import PRESETS, get_preset
from neurochip.program import ChipProgram
from neurochip.results import Results, SpikeData, StateData
from neurochip.simulator import BACKENDS, Simulator

__all__ = [
    "Allocator",
    "BACKENDS",
    "BackendError",
    "ChipProgram",
    "FileFormatError",
    "Greedy",
    "LearningRule",
    "Network",
    "NeurochipError",
    "PRESETS",
    "Population",
    "Probe",
    "Projection",
    "ResourceError",
    "Results",
    "RoundRobin",
    "Simulator",
    "SpikeData",
    "SpikeInput",
    "StateData",
    "TrafficAware",
    "ValidationError",
    "__version__",
    "compile_network",
    "get_preset",
]
