"""neurochip: a bit-exact simulator of Loihi-style neuromorphic chips on Brian2.

Describe a network (:class:`Network`, :class:`Population`, :class:`Projection`,
:class:`SpikeInput`, :class:`Probe`), compile it onto chips
(:func:`compile_network` -> :class:`ChipProgram`), run it (:class:`Simulator`)
and read or save the :class:`Results`.
"""

__version__ = "0.1.0"

# Names are imported on first use (PEP 562), so `import neurochip` and the command
# line's --help stay fast; `from neurochip import X` works as usual.
_LAZY = {
    "Allocator": "neurochip.allocators",
    "Greedy": "neurochip.allocators",
    "RoundRobin": "neurochip.allocators",
    "TrafficAware": "neurochip.allocators",
    "compile_network": "neurochip.compiler",
    "BackendError": "neurochip.errors",
    "FileFormatError": "neurochip.errors",
    "NeurochipError": "neurochip.errors",
    "ResourceError": "neurochip.errors",
    "ValidationError": "neurochip.errors",
    "LearningRule": "neurochip.learning",
    "Network": "neurochip.network",
    "Population": "neurochip.network",
    "Probe": "neurochip.network",
    "Projection": "neurochip.network",
    "SpikeInput": "neurochip.network",
    "PRESETS": "neurochip.presets",
    "get_preset": "neurochip.presets",
    "ChipProgram": "neurochip.program",
    "Results": "neurochip.results",
    "SpikeData": "neurochip.results",
    "StateData": "neurochip.results",
    "BACKENDS": "neurochip.simulator",
    "Simulator": "neurochip.simulator",
    "from_nir": "neurochip.nir_io",
    "to_nir": "neurochip.nir_io",
}


# the subsystems (installed as neurochip.cores etc.), also imported on first use: nc.routing.topology
_SUBPACKAGES = ("cores", "datasets", "learning", "routing")


def __getattr__(name: str):
    import importlib

    if name in _SUBPACKAGES:
        return importlib.import_module(f"neurochip.{name}")  # (which binds it here)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'neurochip' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBPACKAGES))


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
    "from_nir",
    "get_preset",
    "to_nir",
]
