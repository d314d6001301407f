"""Ship a warm-started training stage: the candidate's weights replace the shipped ones, and its
training becomes one more entry of the shipped file's ``stages`` metadata.

A stage trained with ``pnp-internal train-denoiser --init <shipped weights>`` writes a file whose
metadata describes that stage alone. This script writes the candidate's weights over the shipped
file with the shipped history kept: ``stages`` gains the new stage (steps, device, command,
validation), ``steps`` is the sum over the stages and ``training_command`` chains every
stage's command. Run it only after the candidate has beaten the shipped weights on the
benchmarks (``denoiser_candidate.py``):

    python benchmarks/experiments/ship_denoiser.py build/train/color-stage5.safetensors \\
        --into pnp_internal/priors/weights/drunet-lite-color.safetensors \\
        --device "1 CPU core of an AMD EPYC (bf16), 115 min"
"""

from __future__ import annotations

import argparse
import json
import sys

from pnp_internal.priors.cnn import load_denoiser


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("candidate", help="safetensors written by train-denoiser --init <shipped>")
    p.add_argument("--into", required=True, help="the shipped weights file to replace")
    p.add_argument("--device", required=True, help="where and how long the stage trained")
    args = p.parse_args(argv)
    new, old = load_denoiser(args.candidate), load_denoiser(args.into)
    grown = {**old.config, "nb": new.config["nb"]} == new.config \
        and new.config["nb"] > old.config["nb"]  # train-denoiser --init with a larger --nb
    if new.config != old.config and not grown:
        raise SystemExit(f"the candidate's architecture {new.config} is not the shipped one "
                         f"{old.config} (nor the shipped one with more blocks per level)")
    meta_new, meta_old = new.metadata, old.metadata
    stages = json.loads(meta_old.get("stages", "[]"))
    stages.append({"steps": int(meta_new["steps"]), "device": args.device,
                   "command": meta_new["training_command"],
                   "val_psnr_sigma25": meta_new["val_psnr_sigma25"],
                   "validation": "val_psnr_sigma25 on the held-out files of this stage's data: "
                                 + meta_new["data"].split("validation: ", 1)[-1]})
    if grown:
        stages[-1]["architecture"] = f"nb {old.config['nb']} -> {new.config['nb']} (new blocks " \
                                     f"started as identities)"
    # the old file's top-level validation keys belong to its last stage, kept in ``stages``
    meta = {k: v for k, v in meta_old.items() if k not in ("format", "architecture")
            and not k.startswith(("val_psnr", "validation"))}
    meta.update({k: v for k, v in meta_new.items() if k not in ("format", "architecture")})
    meta["stages"] = json.dumps(stages)
    meta["steps"] = str(sum(int(s["steps"]) for s in stages))
    meta["training_command"] = meta_old["training_command"] + " && " + meta_new["training_command"]
    new.save(args.into, metadata=meta)
    print(f"wrote {args.into}: {meta['steps']} steps in {len(stages)} stages, validation "
          f"{meta['val_psnr_sigma25']} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
