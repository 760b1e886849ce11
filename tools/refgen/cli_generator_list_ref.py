"""diffusers reference for `scoresde sample --batch-size 2 --count 2 --seed 1` (one generator per image).

Runs diffusers v0.23.0's ScoreSdeVePipeline on test/fixtures/models/tiny-ncsnpp (default scheduler, as that
folder has no scheduler config) with generator=[torch.Generator().manual_seed(1), ...manual_seed(2)],
2 steps, output_type='np', and saves the images (B, H, W, 3) float32.

Usage (with ../shared/refenv sourced): $REF_PY tools/refgen/cli_generator_list_ref.py OUT.safetensors
"""
import sys

import torch
from diffusers import ScoreSdeVePipeline, ScoreSdeVeScheduler, UNet2DModel
from safetensors.torch import save_file

torch.set_num_threads(1)
unet = UNet2DModel.from_pretrained("test/fixtures/models/tiny-ncsnpp")
pipe = ScoreSdeVePipeline(unet=unet, scheduler=ScoreSdeVeScheduler())
pipe.set_progress_bar_config(disable=True)
generators = [torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)]
with torch.no_grad():
    images = pipe(batch_size=2, num_inference_steps=2, generator=generators, output_type="np").images
save_file({"images": torch.from_numpy(images).contiguous()}, sys.argv[1])
