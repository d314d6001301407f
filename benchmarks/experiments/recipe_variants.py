"""Run bench methods with some recipe fields changed: what the recipe book would measure if it
said otherwise (the record keeps the changed recipes, read while the methods ran).

Usage::

    python benchmarks/experiments/recipe_variants.py sr-x2 --images test/manga109 --crop 256 \\
        --limit 8 --methods ia-idbp --set "IMAGE_ADAPTED[sr].steps=300" \\
        --out build/ood/ia300.json

``--set NAME[KEY].FIELD=VALUE`` (or ``NAME.FIELD=VALUE``) may repeat; VALUE is a Python
literal.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import re
import sys

from pnp_internal import recipes
from pnp_internal.bench.runner import format_markdown, run_task, write_record
from pnp_internal.bench.tasks import default_data_root

_SETTING = re.compile(r"^(\w+)(?:\[(\w+)\])?\.(\w+)=(.+)$")


def override(setting: str) -> None:
    """Replace one field of one recipe of :mod:`pnp_internal.recipes`."""
    m = _SETTING.match(setting)
    if not m:
        raise ValueError(f"--set {setting!r}: expected NAME[KEY].FIELD=VALUE")
    name, key, field, value = m.groups()
    table = getattr(recipes, name)
    recipe = table[key] if key else table
    new = dataclasses.replace(recipe, **{field: ast.literal_eval(value)})
    if key:
        table[key] = new
    else:
        setattr(recipes, name, new)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--images", required=True, help="folder relative to the data root")
    p.add_argument("--methods", required=True)
    p.add_argument("--crop", type=int, default=None)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--set", action="append", default=[], dest="settings")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    for s in args.settings:
        override(s)
    result = run_task(args.task, default_data_root() / args.images, args.methods.split(","),
                      crop=args.crop, limit=args.limit)
    result["settings"]["overrides"] = args.settings
    write_record(args.out, result)
    print(format_markdown(result, per_image=True))
    return 1 if result.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
