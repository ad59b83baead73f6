"""Compiling neurochip's own Cython kernels through Brian2's extension manager (and its cache)."""

from __future__ import annotations

from neurochip.errors import BackendError

_modules: dict[str, object] = {}


def compile_cython(source: str, owner: str):
    """The compiled module for ``source`` (once per process; cached on disk by Brian2).

    Raises instead of returning nothing when Cython fails (Brian2's manager
    prints the error and returns None).
    """
    if owner not in _modules or _modules[owner][0] != source:
        from brian2.codegen.cpp_prefs import get_compiler_and_args
        from brian2.codegen.runtime.cython_rt.extension_manager import cython_extension_manager

        compiler, args = get_compiler_and_args()
        mod = cython_extension_manager.create_extension(
            source, compiler=compiler, extra_compile_args=args, owner_name=owner
        )
        if mod is None:
            raise BackendError(f"the {owner} kernel failed to compile with Cython (its message is above)")
        _modules[owner] = (source, mod)
    return _modules[owner][1]
