"""Curated npm packages every tenant's code may import, shared read-only: lodash and dayjs (with its utc and
timezone plugins).

They come from the npm registry at set-up (package.json, the Makefile's `assets` step) into
runtime/packages/, never from a CDN and never committed. Their bundles are CommonJS/UMD: each
becomes an ES module whose default export is `module.exports`; lodash's functions are also
named exports (`import {chunk} from 'lodash'`), listed once per process by evaluating the
bundle in a throwaway context. dayjs's timezone plugin needs `Intl.DateTimeFormat`, which QuickJS
does not have: the sandbox's own (runtime/sandbox/intl.js) is loaded with it, since the plugin names Intl.
"""

import functools
from pathlib import Path

import quickjs

from runtime.limits import ResourceLimits

DIRECTORY = Path(__file__).parent / "packages"
# specifier -> (file under DIRECTORY, whether its own properties are named exports)
PACKAGES = {
    "lodash": ("lodash.js", True),
    "dayjs": ("dayjs.js", False),
    "dayjs/plugin/utc": ("dayjs-plugin-utc.js", False),
    "dayjs/plugin/timezone": ("dayjs-plugin-timezone.js", False),
}
_RESERVED = frozenset(
    "await break case catch class const continue debugger default delete do else enum export extends false finally "
    "for function if implements import in instanceof interface let new null package private protected public return "
    "static super switch this throw true try typeof var void while with yield arguments eval".split())


def _commonjs(bundle: str) -> str:
    """Run a CommonJS/UMD bundle with `module`, `exports` and `global` as Node gives them, and no AMD `define`."""
    return ("const module = {exports: {}};\n(function (module, exports, global, self, define) {\n" + bundle +
            "\n}).call(globalThis, module, module.exports, globalThis, globalThis, undefined);\n")


def _names(wrapped: str) -> list[str]:
    """The exported object's own property names that can be bound as identifiers."""
    context = quickjs.Context()
    context.set_memory_limit(ResourceLimits.memory_bytes)
    context.set_time_limit(5)
    context.eval(f"(function () {{ {wrapped}\nglobalThis.__names = Object.keys(module.exports).join(','); }})();")
    names = context.eval("__names").split(",")
    return sorted(name for name in names if name.isidentifier() and name.isascii() and name not in _RESERVED)


@functools.cache
def sources() -> dict[str, str]:
    """Each curated package as ES-module source, by import specifier (read once per process)."""
    modules = {}
    for specifier, (filename, named) in PACKAGES.items():
        path = DIRECTORY / filename
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `make setup` (curated npm packages)")
        wrapped = _commonjs(path.read_text())
        exports = "export default module.exports;\n"
        if named:
            # Renamed locals: a `const parseInt` would shadow the global the bundle itself calls.
            names = _names(wrapped)
            exports += ("const {" + ", ".join(f"{name}: $pkg${name}" for name in names) + "} = module.exports;\n"
                        "export {" + ", ".join(f"$pkg${name} as {name}" for name in names) + "};\n")
        modules[specifier] = wrapped + exports
    return modules
