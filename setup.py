"""Build the optional Cython extensions in ext/.

Every extension has a pure-Python twin, so a failed compile is reported and the
install goes on: chargescope then runs on the twins (slower). Set
CHARGESCOPE_NO_EXT=1 to skip the extensions on purpose.
"""

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # compiler missing or broken: keep the install going
            print(f"chargescope: Cython extensions not built ({exc}); using pure-Python twins",
                  file=sys.stderr)

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            print(f"chargescope: extension {ext.name} not built ({exc}); using its twin",
                  file=sys.stderr)


def extensions():
    if os.environ.get("CHARGESCOPE_NO_EXT"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("chargescope: Cython not available; using pure-Python twins", file=sys.stderr)
        return []
    sources = sorted(str(p) for p in Path("ext").glob("*.pyx"))
    if not sources:
        return []
    from setuptools import Extension

    exts = [
        Extension(f"chargescope.ext.{Path(s).stem}", [s], extra_compile_args=["-O3", "-g0"])
        for s in sources
    ]
    return cythonize(exts, language_level=3, quiet=True)


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
