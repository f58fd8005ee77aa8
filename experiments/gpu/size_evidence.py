"""CPU evidence for the GPU run's model size: parameters, training FLOPs and CPU seconds per image.

    OMP_NUM_THREADS=1 python experiments/gpu/size_evidence.py --shards data/staff_mix_val --images 16

For the CPU recipe's model (experiments/configs/staff_reader.yaml) and the GPU run's
(experiments/gpu/pretrain.py MODEL) on the same staff images (the training crop and geometry):
forward + backward FLOPs per image counted by ``torch.utils.flop_counter`` (matrix products and
convolutions), measured CPU seconds per image, and the files the export writes (<= 8 in all).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", required=True, help="staff shards (python -m synth make --level staff)")
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args(argv)
    import torch
    import yaml
    from torch.utils.flop_counter import FlopCounterMode

    from experiments.gpu.pretrain import MODEL
    from omrformer import OmrformerProcessor
    from omrformer.training.collate import Collator
    from omrformer.training.data import DataError, ShardStream, resolve_shards
    from omrformer.training.module import OmrformerLightning

    proc = OmrformerProcessor()
    try:
        ds = ShardStream(resolve_shards(args.shards), max_length=512, crop=True, geometry=True, processor=proc)
    except DataError as err:
        print(f"size_evidence: {err}", file=sys.stderr)
        return 2
    items = []
    for item in ds:
        items.append(item)
        if len(items) >= args.images:
            break
    items.sort(key=lambda it: it["prepared"].ink.shape[1])  # width buckets, as in training
    batches = [Collator(proc)(items[i: i + args.batch_size]) for i in range(0, len(items), args.batch_size)]
    cpu = yaml.safe_load((ROOT / "experiments/configs/staff_reader.yaml").read_text())["model"]["config_overrides"]
    print("| model | parameters | export files | train GFLOP/image | CPU s/image (fwd+bwd, 1 thread) |")
    print("| --- | --- | --- | --- | --- |")
    for name, cfg in (("CPU recipe (staff_reader.yaml)", cpu), ("GPU run (pretrain.py MODEL)", MODEL)):
        torch.manual_seed(0)
        module = OmrformerLightning(preset="small", config_overrides=dict(cfg), max_target_length=512)
        module.train()
        params = sum(p.numel() for p in module.model.parameters())
        flops, seconds = 0, 0.0
        for b in batches:
            with FlopCounterMode(display=False) as counter:
                module._step(dict(b))["loss"].backward()
            flops += counter.get_total_flops()
            module.zero_grad()
            t = time.perf_counter()
            module._step(dict(b))["loss"].backward()
            seconds += time.perf_counter() - t
            module.zero_grad()
        with tempfile.TemporaryDirectory() as tmp:
            module.model.save_pretrained(tmp, max_shard_size="15MB")
            proc.save_pretrained(tmp)
            # generation_config.json is dropped by the GPU export; the log and summary are added.
            files = len([p for p in Path(tmp).iterdir() if p.name != "generation_config.json"]) + 2
        n = len(items)
        print(f"| {name} | {params / 1e6:.2f}M | {files} | {flops / n / 1e9:.1f} | {seconds / n:.2f} |")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
