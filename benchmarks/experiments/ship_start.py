"""Ship a warm-started MZSR training stage: the candidate start replaces the shipped one, and
its training becomes one more entry of the shipped file's ``stages`` metadata.

``pnp-internal train-meta --init <shipped start>`` writes a file whose metadata describes that
stage alone. This script writes the candidate over the shipped file with the history kept:
``stages`` gains the new stage (command, steps, device, validation, and the input when the
stage changed it), ``training_command`` chains every stage's command. Run it only after the
candidate has beaten the shipped start on the benchmarks:

    python benchmarks/experiments/ship_start.py build/meta/mzsr-x2-momentum.safetensors \\
        --into pnp_internal/meta/weights/mzsr-x2.safetensors \\
        --device "one core of a 2-core AMD EPYC, bf16, 55 min"
"""

from __future__ import annotations

import argparse
import json
import sys

from pnp_internal.meta.mzsr import load_start, save_start, start_input


def _input(meta: dict) -> str:
    steps, momentum = start_input(meta)
    return f"{steps} back-projection steps" + (" with momentum" if momentum else "")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("candidate", help="safetensors written by train-meta --init <shipped>")
    p.add_argument("--into", required=True, help="the shipped start to replace")
    p.add_argument("--device", required=True, help="where and how long the stage trained")
    args = p.parse_args(argv)
    (net, meta_new), (_, meta_old) = load_start(args.candidate), load_start(args.into)
    arch_new, arch_old = (json.loads(m["architecture"]) for m in (meta_new, meta_old))
    if {k: arch_new[k] for k in ("channels", "width", "depth", "factor")} != \
            {k: arch_old[k] for k in ("channels", "width", "depth", "factor")}:
        raise SystemExit(f"the candidate's network {arch_new} is not the shipped one {arch_old}")
    val = next(k for k in meta_new if k.startswith("val_psnr_") and k.endswith("_steps"))
    stages = json.loads(meta_old.get("stages", "null") or "null")
    if stages is None:  # the shipped file describes its own (last) stage only
        old_val = next(k for k in meta_old if k.startswith("val_psnr_") and k.endswith("_steps"))
        stages = [{"command": meta_old["training_command"], "steps": meta_old["steps"],
                   "device": f"{meta_old.get('device', '?')}, {meta_old.get('precision', '?')}, "
                             f"{meta_old.get('seconds', '?')} s",
                   old_val: meta_old[old_val], "family": meta_old.get("family", "")}]
    stage = {"command": meta_new["training_command"], "steps": meta_new["steps"],
             "device": args.device, val: meta_new[val], "family": meta_new.get("family", "")}
    if start_input(meta_new) != start_input(meta_old):
        stage["input"] = f"{_input(meta_new)} (before: {_input(meta_old)})"
    stages.append(stage)
    meta = {k: v for k, v in meta_new.items() if k not in ("format", "architecture")}
    meta["stages"] = json.dumps(stages)
    meta["training_command"] = meta_old["training_command"] + " && " + meta_new["training_command"]
    steps, momentum = start_input(meta_new)
    save_start(net, args.into, factor=arch_new["factor"], input_back_projection=steps,
               input_momentum=momentum, metadata=meta)
    print(f"wrote {args.into}: {len(stages)} stages, validation {meta_new[val]} dB, input "
          f"{_input(meta_new)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
