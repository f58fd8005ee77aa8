"""Copy a trained model (a run's ``hf_best`` folder, or a Lightning ``.ckpt``) to where it ships, checked.

    python experiments/export_checkpoint.py runs/cpu_checkpoint/csv/version_0/hf_best \\
        omrformer/pretrained/omrformer-small [--max-shard-size 15MB]
    python experiments/export_checkpoint.py runs/.../checkpoints/last.ckpt DEST   # a stopped run

A ``.ckpt`` gets the default processor settings (those the training DataModule uses).
Reloads the written folder offline and checks that its logits equal the source's on a test input,
so a checkpoint that does not round-trip is never bundled (within 1e-5: oneDNN may pick another
convolution algorithm for a fresh copy of the same weights, which moves logits by ~1e-6).
``--dtype bfloat16|float16`` stores the weights at half the size; the check then compares against
the source rounded the same way, and the transcriber computes in float32 whatever the file holds.
The destination is replaced atomically.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--max-shard-size", default="15MB", help="<= 15MB fits the GPU tool's file limit")
    ap.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                    help="dtype of the stored weights")
    args = ap.parse_args(argv)
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch

    from grammar.vocab import VOCAB
    from omrformer import OmrformerModel, OmrformerProcessor

    if args.src.suffix == ".ckpt" and args.src.is_file():
        from omrformer.training.module import OmrformerLightning

        model = OmrformerLightning.load_from_checkpoint(args.src, map_location="cpu").model.eval()
        processor = OmrformerProcessor()
    elif (args.src / "config.json").is_file():
        model = OmrformerModel.from_pretrained(args.src).eval()
        processor = OmrformerProcessor.from_pretrained(args.src)
    else:
        print(f"export: {args.src} is neither a model folder (config.json) nor a .ckpt file", file=sys.stderr)
        return 2
    dtype = getattr(torch, args.dtype)
    if dtype != torch.float32:
        model = model.to(dtype).float()  # the source as the file will hold it
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=args.dst.parent if args.dst.parent.exists() else None))
    try:
        model.to(dtype).save_pretrained(tmp, max_shard_size=args.max_shard_size)
        model.float()
        processor.save_pretrained(tmp)
        tmp.chmod(0o755)
        for f in tmp.iterdir():
            f.chmod(0o644)  # save_pretrained writes shards 0600; a shipped file must be readable
        reloaded = OmrformerModel.from_pretrained(tmp).float().eval()
        torch.manual_seed(0)
        image = (torch.rand(160, 320) * 255).to(torch.uint8).numpy()
        batch = processor(images=[image], return_tensors="pt")
        ids = torch.tensor([[VOCAB.bos_id]])
        with torch.no_grad():
            a = model(**batch, decoder_input_ids=ids).logits
            b = reloaded(**batch, decoder_input_ids=ids).logits
        diff = float((a - b).abs().max())
        if not diff <= 1e-5:
            print(f"export: reloaded logits differ from the source's by {diff:.2e}; nothing written",
                  file=sys.stderr)
            return 1
        if args.dst.exists():
            shutil.rmtree(args.dst)
        args.dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, args.dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"exported {args.src} -> {args.dst} ({args.dtype}; reloaded logits within {diff:.1e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
