"""Every public function, class and method of tmvlib says what it does (and, where it takes
arrays, their shapes): a newcomer reads the docstring, not the body."""
import ast
from pathlib import Path

import tmvlib

PACKAGE = Path(tmvlib.__file__).parent


def public_definitions_without_docstring() -> list[str]:
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        tree = ast.parse(path.read_text())
        if not ast.get_docstring(tree):
            missing.append(f"{module} (module)")
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                    and not node.name.startswith("_"):
                if not ast.get_docstring(node):
                    missing.append(f"{module}.{node.name}")
                if isinstance(node, ast.ClassDef):
                    missing += [f"{module}.{node.name}.{m.name}" for m in node.body
                                if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
                                and not m.name.startswith("_") and not ast.get_docstring(m)
                                and not any(isinstance(d, ast.Name) and d.id == "property"
                                            for d in m.decorator_list)]
    return missing


def test_public_definitions_have_docstrings():
    missing = public_definitions_without_docstring()
    assert not missing, f"{len(missing)} public definitions without a docstring:\n" + "\n".join(missing)
