"""Training data of issue 9: the staff crop on generated samples, anchors through crop and rescale,
width buckets, cached labels, and the learning-rate schedule over the time budget."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from omrformer.training.geometry import system_crop_box, token_geometry

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def samples() -> list[dict]:
    """Generated single-staff and grand-staff system samples (synth, the stage-1 config)."""
    import cv2

    from synth.config import load_config
    from synth.sample import SampleError, SampleMaker

    maker = SampleMaker(load_config(str(ROOT / "experiments/configs/synth/system_staff.yaml"), level="system"),
                        "random")
    out = []
    for i in range(40):
        try:
            s = maker.make(123, i)
        except SampleError:
            continue
        image = cv2.imdecode(np.frombuffer(s.png, np.uint8), cv2.IMREAD_GRAYSCALE)
        out.append({"key": s.key, "image": image, "label": s.label, "geometry": json.loads(json.dumps(s.geometry))})
        if len(out) == 12:
            break
    assert len(out) >= 8
    return out


def test_crop_never_cuts_a_staff_line_or_an_anchor(samples: list[dict]) -> None:
    from grammar.musicxml import read_score

    for s in samples:
        g = s["geometry"]
        h, w = s["image"].shape
        for seed in range(5):
            box = system_crop_box(g, w, h, jitter=0.5, rng=np.random.default_rng(seed))
            assert box is not None
            x0, y0, x1, y1 = box
            area = (x1 - x0) * (y1 - y0)
            assert area < w * h  # the crop removes something
            for staff in g["staves"]:
                lines = np.asarray(staff["lines"])
                assert (lines[..., 0] >= x0).all() and (lines[..., 0] < x1).all(), s["key"]
                assert (lines[..., 1] >= y0).all() and (lines[..., 1] < y1).all(), s["key"]
            tg = token_geometry(read_score(s["label"]).tokens, g)
            assert tg is not None, s["key"]
            a = tg.anchors[~np.isnan(tg.anchors[:, 0])]
            assert len(a)
            assert (a[:, 0] >= x0).all() and (a[:, 0] < x1).all(), s["key"]
            assert (a[:, 1] >= y0).all() and (a[:, 1] < y1).all(), s["key"]


def test_every_event_token_of_a_generated_label_is_anchored(samples: list[dict]) -> None:
    from grammar.musicxml import read_score

    for s in samples:
        tokens = read_score(s["label"]).tokens
        tg = token_geometry(tokens, s["geometry"])
        assert tg is not None
        # Whole-measure rests are Verovio "mRest" elements, which carry no anchor.
        events = [i for i, t in enumerate(tokens) if t in ("note", "rest") and tokens[i + 1] != "dur:measure"]
        anchored = [i for i in events if not math.isnan(tg.anchors[i, 0])]
        assert len(anchored) >= 0.9 * len(events), s["key"]
        pitch = [i for i, t in enumerate(tokens) if t.startswith("pitch:")]
        # Every notehead point carries a staff position (the stage-1 notes stay within 12 half spaces).
        heads = tg.points[tg.points[:, 2] == 1]
        assert len(heads) and (heads[:, 3] >= 0).mean() > 0.9
        assert len(heads) <= len(pitch)


def _shard(tmp_path: Path, samples: list[dict]) -> Path:
    import cv2

    from synth.shards import write_shard

    files = []
    for s in samples:
        ok, png = cv2.imencode(".png", s["image"])
        files.append({f"{s['key']}.png": png.tobytes(), f"{s['key']}.musicxml": s["label"],
                      f"{s['key']}.geometry.json": json.dumps(s["geometry"]).encode(),
                      f"{s['key']}.json": b"{}"})
    path = tmp_path / "shard-000000.tar"
    write_shard(path, files)
    return path


@pytest.mark.slow  # ~20 s idle, a minute on a loaded 2-core machine (staff detection per sample)
def test_stream_crops_buckets_and_carries_anchors_into_the_prepared_frame(tmp_path, samples) -> None:
    from omrformer import OmrformerProcessor
    from omrformer.training.collate import Collator
    from omrformer.training.data import ShardStream

    shard = _shard(tmp_path, samples[:8])
    p = OmrformerProcessor()
    plain = list(ShardStream([shard], max_length=2048))
    ds = ShardStream([shard], max_length=2048, crop=True, crop_jitter=0.5, geometry=True, processor=p,
                     shuffle_buffer=8, bucket_size=4)
    groups = list(ds)
    assert sum(len(g) for g in groups) == len(plain)
    assert all(len(g) == 4 for g in groups[:-1])
    widths = [sorted(x["prepared"].ink.shape[1] for x in g) for g in groups]
    # Buckets hold similar widths: the spread inside a batch is below the spread of the data.
    all_w = sorted(w for g in widths for w in g)
    assert max(g[-1] - g[0] for g in widths[:1]) <= all_w[-1] - all_w[0]
    for g in groups:
        batch = Collator(p)(g)
        assert batch["token_anchors"].shape[:2] == batch["labels"].shape
        a = batch["token_anchors"]
        has = ~a[..., 0].isnan()
        assert has.any()
        h, w = batch["pixel_values"].shape[-2:]
        assert (a[has][:, 0] >= 0).all() and (a[has][:, 0] < w).all() and (a[has][:, 1] < h).all()
        # The anchor of a notehead sits on ink in the prepared image (near the glyph).
        x = batch["pixel_values"][0, 0]
        i = int(has[0].nonzero()[0])
        cx, cy = (int(v) for v in a[0, i])
        assert float(x[max(cy - 6, 0) : cy + 6, max(cx - 10, 0) : cx + 10].max()) > 0.3
    # The crop keeps the image smaller than the uncropped one (in the sample's own pixels).
    cropped = sum(x["prepared"].size[0] * x["prepared"].size[1] / x["prepared"].scale ** 2
                  for g in groups for x in g)
    uncropped = sum(x["image"].size for x in plain)
    assert cropped < 0.8 * uncropped


def test_labels_are_parsed_once_per_stream(tmp_path, samples, monkeypatch) -> None:
    import grammar.musicxml
    from omrformer.training.data import ShardStream

    shard = _shard(tmp_path, samples[:3])
    calls = {"n": 0}
    real = grammar.musicxml.read_score

    def counting(*a, **k):
        calls["n"] += 1
        return real(*a, **k)

    monkeypatch.setattr(grammar.musicxml, "read_score", counting)
    ds = ShardStream([shard], max_length=2048, loop=True)
    it = iter(ds)
    for _ in range(9):  # three epochs
        next(it)
    assert calls["n"] == 3


def test_learning_rate_follows_the_time_budget(monkeypatch) -> None:
    from datetime import timedelta

    from lightning.pytorch.callbacks import Timer

    from omrformer.training.module import OmrformerLightning

    m = OmrformerLightning(preset="tiny", max_target_length=64, warmup_steps=2, total_steps=10_000, lr=1.0)
    timer = Timer(duration=timedelta(seconds=100))
    elapsed = {"s": 0.0}
    monkeypatch.setattr(timer, "time_elapsed", lambda stage="train": elapsed["s"])

    class FakeTrainer:
        callbacks = [timer]
        max_steps = 10_000

    monkeypatch.setattr(OmrformerLightning, "trainer", property(lambda self: FakeTrainer()))
    m._trainer = FakeTrainer()  # type: ignore[assignment]
    sched = m.configure_optimizers()["lr_scheduler"]["scheduler"]
    lam = sched.lr_lambdas[0]
    assert lam(0) == pytest.approx(0.5)  # warm-up by steps
    elapsed["s"] = 50.0
    assert lam(100) == pytest.approx(0.05 + 0.95 * 0.5, rel=1e-6)  # half the time: half way down
    elapsed["s"] = 100.0
    assert lam(101) == pytest.approx(0.05)  # budget spent: the floor, whatever the step
    # Without max_time: the step schedule.
    FakeTrainer.callbacks = []
    sched = m.configure_optimizers()["lr_scheduler"]["scheduler"]
    assert sched.lr_lambdas[0](5001) == pytest.approx(0.05 + 0.95 * 0.5, rel=1e-3)
