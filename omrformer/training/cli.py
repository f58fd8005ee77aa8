"""``omrformer-train``: LightningCLI over :class:`OmrformerLightning` and :class:`OmrDataModule`.

    omrformer-train fit --config experiments/configs/stage1_staff.yaml
    omrformer-train fit --config experiments/configs/stage1_staff.yaml --ckpt_path last   # resume
    omrformer-train validate --config ... --ckpt_path runs/stage1/.../checkpoints/best.ckpt

Every run saves its full config (``config.yaml``) beside its logs.
"""

from __future__ import annotations

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from omrformer.training.data import OmrDataModule
from omrformer.training.module import OmrformerLightning


class OmrformerCLI(LightningCLI):
    """LightningCLI with the values that only the data knows linked into the model."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # The longest label the data yields must fit the decoder's position table.
        parser.link_arguments("data.max_length", "model.max_target_length")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``omrformer-train`` (returns the exit status)."""
    OmrformerCLI(
        OmrformerLightning,
        OmrDataModule,
        save_config_kwargs={"overwrite": True},
        args=argv,  # None: LightningCLI reads sys.argv itself
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
