"""MoCap Anything, the Blender side: a thin adapter between bpy and the `model` package
(shipped inside this extension as a wheel, imported as the top-level `model` just as the
tests and the tools import it).

Only this package touches bpy, and only on Blender's main thread. Registering imports the
modules that need torch only after the preferences are read, so that a user's own torch
(with CUDA) can be put first on the path.
"""

import sys

from . import preferences

_modules = []


def register():
    preferences.register()
    path = preferences.torch_path()
    if path and path not in sys.path:
        sys.path.insert(0, path)
    from . import requirements

    missing = requirements.missing()
    if missing:  # say what to do, in the tab and on the command line, rather than fail to enable
        requirements.register(missing)
        _modules[:] = [requirements]
        return
    from . import cli, operators, panel

    _modules[:] = [operators, panel, cli]
    for module in _modules:
        module.register()


def unregister():
    for module in reversed(_modules):
        module.unregister()
    _modules.clear()
    preferences.unregister()
