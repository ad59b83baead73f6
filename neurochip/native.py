"""Compiling neurochip's own Cython kernels through Brian2's extension manager (and its cache)."""

from __future__ import annotations

from neurochip.errors import BackendError

_modules: dict[str, object] = {}


def compile_cython(source: str, owner: str, openmp: bool = False):
    """The compiled module for ``source`` (once per process; cached on disk by Brian2).

    ``openmp``: compile and link with OpenMP when the compiler supports it (the
    module's ``#pragma omp`` loops then run in parallel; without it, serially).
    Raises instead of returning nothing when Cython fails (Brian2's manager
    prints the error and returns None).
    """
    if owner not in _modules or _modules[owner][0] != source:
        from brian2.codegen.cpp_prefs import get_compiler_and_args
        from brian2.codegen.runtime.cython_rt.extension_manager import cython_extension_manager

        compiler, args = get_compiler_and_args()
        link = []
        if openmp and openmp_flag(compiler):
            args, link = [*args, "-fopenmp"], ["-fopenmp"]
        mod = cython_extension_manager.create_extension(
            source, compiler=compiler, extra_compile_args=args, extra_link_args=link, owner_name=owner
        )
        if mod is None:
            raise BackendError(f"the {owner} kernel failed to compile with Cython (its message is above)")
        _modules[owner] = (source, mod)
    return _modules[owner][1]


_openmp: dict[str, bool] = {}


def openmp_flag(compiler) -> bool:
    """Whether the C compiler takes ``-fopenmp`` (checked once per process)."""
    if compiler not in _openmp:
        from brian2.codegen.cpp_prefs import has_flag

        try:
            from distutils.ccompiler import new_compiler
            from distutils.sysconfig import customize_compiler

            obj = new_compiler(compiler=compiler, verbose=0)
            customize_compiler(obj)
            _openmp[compiler] = bool(has_flag(obj, "-fopenmp"))
        except Exception:
            _openmp[compiler] = False
    return _openmp[compiler]
