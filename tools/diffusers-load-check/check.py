"""Loads a scoresde-written pipeline folder in Python diffusers 0.23 and runs the UNet on the inputs scoresde
used, printing the largest relative difference to scoresde's output. Run by run.ts (see README.md)."""
import sys
import torch
from diffusers import ScoreSdeVePipeline
from safetensors.torch import load_file

folder, io_file = sys.argv[1], sys.argv[2]
pipe = ScoreSdeVePipeline.from_pretrained(folder)
t = load_file(io_file)
with torch.no_grad():
    out = pipe.unet(t["x"], t["sigma"]).sample
ref = t["output"]
rel = ((out - ref).abs().max() / ref.abs().max()).item()
print(f"diffusers {__import__('diffusers').__version__} loaded {folder}: unet {type(pipe.unet).__name__}, "
      f"scheduler sigma_min={pipe.scheduler.config.sigma_min} sigma_max={pipe.scheduler.config.sigma_max}; "
      f"forward rel diff vs scoresde = {rel:.3e}")
sys.exit(0 if rel < 1e-4 else 1)
