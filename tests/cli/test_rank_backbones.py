"""``rank --backbone timm:NAME --weights FILE``: a brought model ranked against a packaged one."""

from __future__ import annotations

import json

import timm
from safetensors.torch import save_file

from medtransfer.cli.app import app


def test_rank_a_user_timm_checkpoint_against_lite0(runner, image_folders, tmp_path):
    source, target = image_folders
    model = timm.create_model("resnet18", pretrained=False, num_classes=0)
    checkpoint = tmp_path / "resnet18.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, checkpoint)
    args = ["rank", str(target), "--source", str(source), "--backbone", "efficientnet_lite0",
            "--backbone", "timm:resnet18", "--weights", str(checkpoint), "--image-size", "32",
            "--target-labels", "8", "--harmonize", "zscore", "--quiet", "-o", str(tmp_path / "r")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    ranking = json.loads((tmp_path / "r" / "rank.json").read_text())["ranking"]
    assert {row["name"] for row in ranking} == {
        "source @ efficientnet_lite0", "source @ timm:resnet18"}
