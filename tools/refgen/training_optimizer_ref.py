"""Exact reference for scoresde's optimiser and noise draws (test/fixtures/training/optimizer-exact.safetensors).

Runs score_sde's optimisation rules (losses.py optimization_manager + get_step_fn, models/ema.py) with
torch.optim.Adam on small hand-made parameters and gradients, so the TypeScript port can be compared bit for
bit (same float32 kernels, no network in between). Also records score_sde's per-step noise draws
(t = rand(B)·(T − eps) + eps, then z = randn_like(x0)) from one seeded generator.

Usage (with ../shared/refenv sourced): $REF_PY tools/refgen/training_optimizer_ref.py OUT.safetensors
"""
import sys

import numpy as np
import torch
from safetensors.torch import save_file

torch.set_num_threads(1)
out = {}

# ---- optimiser: 6 steps, warmup 3, clip 1.0, Adam(0.9, 0.999, 1e-8), EMA(0.4, use_num_updates) ----
LR, WARMUP, CLIP, DECAY, STEPS = 1e-2, 3, 1.0, 0.4, 6
g = torch.Generator().manual_seed(2024)
shapes = {"a": (7,), "b": (37,), "c": (3, 5, 4, 4), "d": (300,), "tiny": (16,)}
params = {}
for name, shape in shapes.items():
    params[name] = torch.nn.Parameter(torch.randn(shape, generator=g) * 0.3)
frozen = torch.nn.Parameter(torch.randn((5,), generator=g), requires_grad=False)  # like fourier time_proj
plist = [params[n] for n in shapes] + [frozen]
for n in shapes:
    out[f"init/{n}"] = params[n].detach().clone()
out["init/frozen"] = frozen.detach().clone()

opt = torch.optim.Adam(plist, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)


class EMA:  # score_sde models/ema.py ExponentialMovingAverage, use_num_updates=True
    def __init__(self, parameters, decay):
        self.decay = decay
        self.num_updates = 0
        self.shadow_params = [p.clone().detach() for p in parameters if p.requires_grad]

    def update(self, parameters):
        decay = self.decay
        if self.num_updates is not None:
            self.num_updates += 1
            decay = min(decay, (1 + self.num_updates) / (10 + self.num_updates))
        one_minus_decay = 1.0 - decay
        with torch.no_grad():
            parameters = [p for p in parameters if p.requires_grad]
            for s_param, param in zip(self.shadow_params, parameters):
                s_param.sub_(one_minus_decay * (s_param - param))


ema = EMA(plist, DECAY)
scales = [10.0, 0.01, 3.0, 0.1, 100.0, 0.5]
for k in range(STEPS):
    for n, p in params.items():
        gr = torch.randn(p.shape, generator=g) * scales[k]
        if n == "tiny":
            gr = gr * 1e-10  # below eps: exercises denom = sqrt(v) + eps
        if n == "b":
            gr[::5] = 0.0
        p.grad = gr
        out[f"step{k}/grad/{n}"] = gr.clone()
    # optimize_fn
    for group in opt.param_groups:
        group["lr"] = LR * np.minimum(k / WARMUP, 1.0)
    out[f"step{k}/lr"] = torch.tensor([opt.param_groups[0]["lr"]], dtype=torch.float64)
    total = torch.nn.utils.clip_grad_norm_(plist, max_norm=CLIP)
    out[f"step{k}/total_norm"] = total.reshape(1).clone()
    for n, p in params.items():
        out[f"step{k}/clipped_grad/{n}"] = p.grad.clone()
    opt.step()
    ema.update(plist)
    for n, p in params.items():
        out[f"step{k}/param/{n}"] = p.detach().clone()
    for n, s in zip(shapes, ema.shadow_params):
        out[f"step{k}/ema/{n}"] = s.clone()
for n, p in params.items():
    st = opt.state[p]
    out[f"final/exp_avg/{n}"] = st["exp_avg"].clone()
    out[f"final/exp_avg_sq/{n}"] = st["exp_avg_sq"].clone()
out["final/frozen"] = frozen.detach().clone()

# ---- noise: score_sde get_sde_loss_fn draws, two steps from one generator ----
eps, T, smin, smax = 1e-5, 1.0, 0.01, 50.0
gen = torch.Generator().manual_seed(7)
for k, shape in enumerate([(3, 1, 8, 8), (2, 3, 4, 4), (5, 1, 2, 2)]):
    B = shape[0]
    t = torch.rand(B, generator=gen) * (T - eps) + eps
    z = torch.randn(shape, generator=gen)
    sigma = smin * (smax / smin) ** t
    out[f"noise{k}/t"] = t
    out[f"noise{k}/z"] = z
    out[f"noise{k}/sigma"] = sigma

save_file({k: v.contiguous() for k, v in out.items()}, sys.argv[1],
          metadata={"generator": "tools/refgen/training_optimizer_ref.py", "torch": torch.__version__})
print("wrote", sys.argv[1], len(out), "tensors")
