"""Training throughput of a config's recipe on a fixed set of generated staves (issue 9).

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python experiments/bench_train.py --compare
    .venv/bin/python experiments/bench_train.py --config experiments/configs/staff_reader.yaml \
        --shards data/ck/val --threads 1

Runs the training step (data: load, decode, crop, tokenize, staff detection, collate; forward;
backward; optimizer with gradient clipping) of the config's recipe and prints a Markdown table:
images/s and seconds per step split into data / forward / backward / optimizer. ``--compare`` also
runs the old recipe (the bundled checkpoint's: fp32, uncropped, no bucketing, patch stem, no geometry
losses) and the steps in between, on the same samples in the same run (whole epochs over the same
samples, recipes interleaved so machine noise is shared; the bf16 row only ``--bf16-batches``
batches per epoch), and ends with ``speedup X.XX`` (images/s of the config's recipe over the
old one, same model size). Without ``--shards`` it makes its own samples with ``python -m synth
make`` (seed 9090, single staves as in experiments/configs/synth/system_staff.yaml).

The data is loaded in this process (no worker), so "data" is the cost a DataLoader worker must hide;
images/s counts everything, data included (what one core does serially).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OLD = {"precision": "32-true", "crop": False, "bucket": False, "stem": "patch", "dense": False, "guided": 0.0}


def make_samples(out: Path, count: int, seed: int) -> Path:
    cmd = [sys.executable, "-m", "synth", "make", "--source", "random", "--level", "system",
           "--count", str(count), "--out", str(out), "--seed", str(seed), "--workers", "1",
           "--samples-per-shard", str(count), "--config",
           str(ROOT / "experiments/configs/synth/system_staff.yaml")]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def recipe_of(config: dict[str, Any]) -> dict[str, Any]:
    ov = config["model"].get("config_overrides", {})
    d = config.get("data", {})
    return {"precision": config["trainer"].get("precision", "32-true"), "crop": bool(d.get("crop")),
            "bucket": bool(d.get("bucket_width")), "stem": ov.get("stem", "patch"),
            "dense": bool(ov.get("dense_heads")), "guided": float(ov.get("guided_attention_weight", 0.0))}


class Runner:
    """One recipe: its own model, optimizer and sample stream; ``step()`` times one training step."""

    def __init__(self, name: str, recipe: dict[str, Any], config: dict[str, Any], shards: list[Path]) -> None:
        import torch

        from omrformer import OmrformerProcessor
        from omrformer.training.collate import Collator
        from omrformer.training.data import ShardStream
        from omrformer.training.module import OmrformerLightning

        self.name, self.recipe = name, recipe
        m, d = config["model"], config["data"]
        ov = dict(m.get("config_overrides", {}))
        ov.update(stem=recipe["stem"], dense_heads=recipe["dense"], guided_attention_weight=recipe["guided"])
        torch.manual_seed(0)
        self.module = OmrformerLightning(preset=m.get("preset", "small"), config_overrides=ov,
                                         max_target_length=d.get("max_length", 512), lr=m.get("lr", 1e-3))
        self.module.train()
        self.opt = torch.optim.AdamW(self.module.parameters(), lr=1e-4)
        processor = OmrformerProcessor()
        self.batch_size = d.get("batch_size", 8)
        prepare = recipe["crop"] or recipe["bucket"] or recipe["dense"] or bool(recipe["guided"])
        # One pass over all samples per epoch; the shuffle buffer holds them all, so bucketing
        # sees every width and every recipe trains on exactly the same images.
        self.ds = ShardStream(shards, max_length=d.get("max_length", 512), loop=False, shuffle_buffer=10_000,
                              seed=1, crop=recipe["crop"], crop_jitter=d.get("crop_jitter", 0.5),
                              geometry=recipe["dense"] or bool(recipe["guided"]),
                              processor=processor if prepare else None,
                              bucket_size=self.batch_size if recipe["bucket"] else 0)
        self.collate = Collator(processor)
        self.times: dict[str, float] = {"data": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0}
        self.images = 0
        self.steps = 0
        self.params = sum(p.numel() for p in self.module.model.parameters())

    def _batches(self) -> Any:
        """Yields raw sample groups; the time to read, decode, crop and prepare them is "data"."""
        group: list[dict[str, Any]] = []
        for item in self.ds:
            if self.recipe["bucket"]:
                yield item
                continue
            group.append(item)
            if len(group) == self.batch_size:
                yield group
                group = []
        if group:
            yield group

    def epoch(self, max_batches: int | None = None, record: bool = True) -> None:
        it = self._batches()
        n = 0
        while max_batches is None or n < max_batches:
            t0 = time.perf_counter()
            try:
                group = next(it)
            except StopIteration:
                return
            self.step(group, t0, record)
            n += 1

    def step(self, group: list[dict[str, Any]], t0: float, record: bool = True) -> None:
        import torch

        batch = self.collate(group)
        t1 = time.perf_counter()
        bf16 = self.recipe["precision"].startswith("bf16")
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = self.module._step(batch)["loss"]
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(self.module.parameters(), 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        if record:
            for k, dt in zip(self.times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                self.times[k] += dt
            self.images += batch["labels"].shape[0]
            self.steps += 1

    def row(self) -> tuple[str, float]:
        total = sum(self.times.values())
        ips = self.images / total if total else 0.0
        per = {k: v / max(self.steps, 1) for k, v in self.times.items()}
        r = self.recipe
        desc = (f"{r['precision']}, crop {'on' if r['crop'] else 'off'}, buckets {'on' if r['bucket'] else 'off'}, "
                f"stem {r['stem']}, dense {'on' if r['dense'] else 'off'}, guided {r['guided']:g}")
        line = (f"| {self.name} | {desc} | {self.params / 1e6:.2f}M | {self.steps} | {ips:.2f} | "
                f"{per['data']:.3f} | {per['forward']:.3f} | {per['backward']:.3f} | {per['optimizer']:.3f} | "
                f"{total / max(self.steps, 1):.3f} |")
        return line, ips


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "experiments/configs/staff_reader.yaml"))
    ap.add_argument("--shards", nargs="*", help="shard files or folders (default: make --count samples)")
    ap.add_argument("--count", type=int, default=48, help="samples to make without --shards")
    ap.add_argument("--compare", action="store_true", help="also run the old recipe and the steps between")
    ap.add_argument("--epochs", type=int, default=1, help="passes over the samples per recipe")
    ap.add_argument("--bf16-batches", type=int, default=1,
                    help="batches per epoch of the bf16 row (several times slower on CPUs without bf16)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import cv2
    import torch

    from omrformer.training.data import resolve_shards

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    config = yaml.safe_load(Path(args.config).read_text())
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        if args.shards:
            shards = resolve_shards(args.shards)
        else:
            t = time.perf_counter()
            shards = resolve_shards(str(make_samples(Path(tmp) / "samples", args.count, 9090)))
            print(f"made {args.count} samples in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        new = recipe_of(config)
        recipes: list[tuple[str, dict[str, Any]]] = []
        if args.compare:
            recipes += [
                ("old", OLD),
                ("+ crop, buckets", {**OLD, "crop": True, "bucket": True}),
                ("+ crop, buckets, bf16", {**OLD, "crop": True, "bucket": True, "precision": "bf16-mixed"}),
            ]
        recipes.append(("config", new))
        runners = [Runner(n, r, config, shards) for n, r in recipes]
        for r in runners:  # warm-up: first-call allocations (not recorded)
            r.epoch(max_batches=1, record=False)
        # Whole epochs over the same samples, recipes interleaved so machine noise is shared.
        for _ in range(args.epochs):
            for r in runners:
                r.epoch(max_batches=args.bf16_batches if r.recipe["precision"].startswith("bf16") else None)
    print(f"`{' '.join(['bench_train.py', *sys.argv[1:]])}` ({args.threads} torch threads, batch "
          f"{runners[0].batch_size}, {len(shards)} shard(s))\n")
    print("| recipe | settings | params | steps | images/s | data s/step | forward s/step | "
          "backward s/step | optimizer s/step | total s/step |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    speeds = {}
    for r in runners:
        line, ips = r.row()
        speeds[r.name] = ips
        print(line)
    if args.compare:
        print(f"\nspeedup {speeds['config'] / speeds['old']:.2f}")


if __name__ == "__main__":
    main()
