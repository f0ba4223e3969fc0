"""Generate ``mllint/rules/project/stdlib_versions.py`` (ML783) from typeshed.

Usage: ``python tests/gen_stdlib_versions.py [path/to/typeshed/stdlib]`` (default: the
typeshed bundled with the installed mypy). The table maps ``module`` and ``module.name``
(``builtins.name`` for builtins) to the first Python version that has it, from typeshed's
``stdlib/VERSIONS`` and the ``sys.version_info`` guards in the stubs, merged with a small
hand-written table of 3.7-3.9 additions (typeshed dropped the guards of versions it no
longer supports). Deterministic: running it twice gives the same file.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from mllint.project.pyscan import version_predicate

Version = tuple[int, int]
CANDIDATES: tuple[Version, ...] = tuple((3, m) for m in range(0, 16))
OUT = Path(__file__).resolve().parent.parent / "mllint" / "rules" / "project" / "stdlib_versions.py"

#: additions of 3.7-3.9 (no longer guarded in typeshed); the 3.8/3.9 names RULES.md requires
MANUAL: dict[str, Version] = {
    "typing.Literal": (3, 8), "typing.Final": (3, 8), "typing.Protocol": (3, 8),
    "typing.TypedDict": (3, 8), "typing.runtime_checkable": (3, 8), "typing.final": (3, 8),
    "typing.SupportsIndex": (3, 8), "typing.get_origin": (3, 8), "typing.get_args": (3, 8),
    "functools.cached_property": (3, 8), "functools.singledispatchmethod": (3, 8),
    "math.prod": (3, 8), "math.isqrt": (3, 8), "math.dist": (3, 8), "math.comb": (3, 8),
    "math.perm": (3, 8), "shlex.join": (3, 8), "statistics.NormalDist": (3, 8),
    "statistics.fmean": (3, 8), "statistics.geometric_mean": (3, 8),
    "statistics.multimode": (3, 8), "statistics.quantiles": (3, 8),
    "importlib.metadata": (3, 8), "multiprocessing.shared_memory": (3, 8),
    "unittest.IsolatedAsyncioTestCase": (3, 8), "unittest.mock.AsyncMock": (3, 8),
    "typing.Annotated": (3, 9), "typing.get_type_hints": (3, 0), "functools.cache": (3, 9),
    "zoneinfo": (3, 9), "graphlib": (3, 9), "asyncio.to_thread": (3, 9), "math.lcm": (3, 9),
    "math.nextafter": (3, 9), "math.ulp": (3, 9), "random.randbytes": (3, 9),
    "os.waitstatus_to_exitcode": (3, 9), "os.pidfd_open": (3, 9),
    "importlib.resources.files": (3, 9), "ast.unparse": (3, 9),
    "typing.ParamSpec": (3, 10), "typing.TypeAlias": (3, 10), "typing.TypeGuard": (3, 10),
    "typing.Concatenate": (3, 10), "typing.is_typeddict": (3, 10), "itertools.pairwise": (3, 10),
    "contextlib.aclosing": (3, 10), "dataclasses.KW_ONLY": (3, 10),
    "builtins.aiter": (3, 10), "builtins.anext": (3, 10), "builtins.EncodingWarning": (3, 10),
    "typing.Self": (3, 11), "typing.Never": (3, 11), "typing.LiteralString": (3, 11),
    "typing.assert_never": (3, 11), "typing.reveal_type": (3, 11), "typing.Required": (3, 11),
    "typing.NotRequired": (3, 11), "typing.TypeVarTuple": (3, 11), "typing.Unpack": (3, 11),
    "typing.dataclass_transform": (3, 11), "tomllib": (3, 11), "asyncio.TaskGroup": (3, 11),
    "asyncio.timeout": (3, 11), "asyncio.Runner": (3, 11), "enum.StrEnum": (3, 11),
    "datetime.UTC": (3, 11), "contextlib.chdir": (3, 11), "builtins.ExceptionGroup": (3, 11),
    "builtins.BaseExceptionGroup": (3, 11),
    "typing.override": (3, 12), "itertools.batched": (3, 12), "collections.abc.Buffer": (3, 12),
    "typing.TypeIs": (3, 13), "typing.ReadOnly": (3, 13),
    "concurrent.futures.InterpreterPoolExecutor": (3, 14),
}  # fmt: skip


def _read_versions(stdlib: Path) -> dict[str, tuple[Version, Version | None]]:
    out: dict[str, tuple[Version, Version | None]] = {}
    for line in (stdlib / "VERSIONS").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        mod, rng = (s.strip() for s in line.split(":", 1))
        lo, hi = rng.split("-")
        lov = tuple(int(x) for x in lo.split("."))
        hiv = tuple(int(x) for x in hi.split(".")) if hi else None
        out[mod] = ((lov[0], lov[1]), (hiv[0], hiv[1]) if hiv else None)
    return out


class _Gen:
    def __init__(self, stdlib: Path) -> None:
        self.stdlib = stdlib
        self.versions = _read_versions(stdlib)
        self.memo: dict[tuple[str, bool], dict[str, frozenset[Version]]] = {}

    def module_versions(self, mod: str) -> frozenset[Version]:
        parts = mod.split(".")
        for i in range(len(parts), 0, -1):
            key = ".".join(parts[:i])
            if key in self.versions:
                lo, hi = self.versions[key]
                return frozenset(v for v in CANDIDATES if v >= lo and (hi is None or v <= hi))
        return frozenset()

    def stub(self, mod: str) -> Path | None:
        base = self.stdlib.joinpath(*mod.split("."))
        for p in (base / "__init__.pyi", base.with_suffix(".pyi")):
            if p.is_file():
                return p
        return None

    def names(self, mod: str, everywhere: bool = False) -> dict[str, frozenset[Version]]:
        """Public names of ``mod`` and the versions defining them (``everywhere``: ignoring
        the module's own VERSIONS range, for star-imports from a module that was split out
        of its package later, such as ``asyncio.exceptions``)."""
        key = (mod, everywhere)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = {}
        path = self.stub(mod)
        if path is None:
            return {}
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found: dict[str, set[Version]] = {}
        is_pkg = path.name == "__init__.pyi"
        avail = frozenset(CANDIDATES) if everywhere else self.module_versions(mod)
        self._walk(tree.body, avail, mod, is_pkg, found)
        out = {k: frozenset(v) for k, v in found.items()}
        self.memo[key] = out
        return out

    def _walk(
        self,
        body: list[ast.stmt],
        avail: frozenset[Version],
        mod: str,
        is_pkg: bool,
        found: dict[str, set[Version]],
    ) -> None:
        for node in body:
            names: list[str] = []
            if isinstance(node, ast.If):
                pred = version_predicate(node.test)
                if pred is None:
                    self._walk(node.body, avail, mod, is_pkg, found)
                    self._walk(node.orelse, avail, mod, is_pkg, found)
                else:
                    self._walk(
                        node.body, frozenset(v for v in avail if pred(v)), mod, is_pkg, found
                    )
                    self._walk(
                        node.orelse, frozenset(v for v in avail if not pred(v)), mod, is_pkg, found
                    )
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.append(node.name)
            elif isinstance(node, ast.Assign):
                names.extend(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.append(node.target.id)
            elif isinstance(node, ast.Import):
                # in a stub only ``import a as a`` re-exports
                names.extend(a.name for a in node.names if a.asname == a.name)
            elif isinstance(node, ast.ImportFrom):
                if any(a.name == "*" for a in node.names):
                    target = self._resolve(node, mod, is_pkg)
                    if target is not None:
                        for n, vs in self.names(target, everywhere=True).items():
                            if not n.startswith("_"):
                                found.setdefault(n, set()).update(vs & avail)
                    continue
                names.extend(a.name for a in node.names if a.asname == a.name)
            for n in names:
                found.setdefault(n, set()).update(avail)

    @staticmethod
    def _resolve(node: ast.ImportFrom, mod: str, is_pkg: bool) -> str | None:
        if node.level == 0:
            return node.module
        parts = mod.split(".")
        if not is_pkg:
            parts = parts[:-1]
        if node.level > 1:
            parts = parts[: len(parts) - (node.level - 1)]
        return ".".join([*parts, node.module]) if node.module else ".".join(parts)


def generate(stdlib: Path) -> dict[str, Version]:
    gen = _Gen(stdlib)
    table: dict[str, Version] = {}
    for mod, (lo, _hi) in gen.versions.items():
        if any(p.startswith("_") for p in mod.split(".")):
            continue
        if lo > (3, 0):
            table[mod] = lo
        mod_lo = min(gen.module_versions(mod), default=None)
        for name, vs in gen.names(mod).items():
            if name.startswith("_") or not vs or mod_lo is None:
                continue
            first = min(vs)
            if first > mod_lo and first > (3, 0):
                table[f"{mod}.{name}"] = first
    for key, v in MANUAL.items():
        if v > (3, 0):
            table[key] = v
        else:
            table.pop(key, None)
    return dict(sorted(table.items()))


def render(table: dict[str, Version]) -> str:
    lines = [
        '"""The first Python version of stdlib modules and module attributes (ML783).',
        "",
        "Generated by ``tests/gen_stdlib_versions.py`` from typeshed (``stdlib/VERSIONS`` and the",
        "``sys.version_info`` guards of the stubs) plus a hand-written table of 3.7-3.9 additions.",
        "Do not edit by hand.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "ADDED: dict[str, tuple[int, int]] = {",
    ]
    for k, (a, b) in table.items():
        lines.append(f'    "{k}": ({a}, {b}),')
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1:
        stdlib = Path(sys.argv[1])
    else:
        import mypy

        stdlib = Path(mypy.__file__).parent / "typeshed" / "stdlib"
    text = render(generate(stdlib))
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(OUT)
    print(f"{OUT}: {text.count(chr(10)) - 11} entries")


if __name__ == "__main__":
    main()
