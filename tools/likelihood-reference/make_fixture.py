"""Independent float64 reference for the likelihood parity test (run by hand; not part of npm test).

Builds a tiny 1-channel fourier UNet2DModel (diffusers 0.23, seeded torch init), saves it, and computes
score_sde's likelihood (likelihood.py's algorithm, written here from the paper's equations) entirely in
float64: the model in float64 (`model.double()`), scipy's solve_ivp(method='RK45') on the flattened
[x, delta_logp] state, the exact divergence from D autograd basis VJPs, and the Hutchinson estimates
with torch's own draws. Writes test/fixtures/likelihood/tiny-fourier-1x4x4/.

    source ../shared/refenv/env.sh && $REF_PY tools/likelihood-reference/make_fixture.py
"""

import json
import os

import numpy as np
import torch
from diffusers import UNet2DModel
from diffusers.models.attention_processor import Attention
from scipy import integrate

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "likelihood", "tiny-fourier-1x4x4")
SIGMA_MIN, SIGMA_MAX = 0.01, 50.0
EPS = 1e-5
SEED = 0

CONFIG = dict(
    sample_size=4,
    in_channels=1,
    out_channels=1,
    time_embedding_type="fourier",
    flip_sin_to_cos=True,
    freq_shift=0,
    block_out_channels=(8, 16),
    layers_per_block=1,
    down_block_types=("DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D"),
    norm_num_groups=4,
    attention_head_dim=8,
)


def attention_scores_float64(self, query, key, attention_mask=None):
    """diffusers' Attention.get_attention_scores in the query's dtype. The original upcasts the softmax to
    float32 and back (not a float64 reference then), and its torch.baddbmm(torch.empty(...), beta=0) lets NaNs
    from the uninitialised buffer through in float64 on torch 1.13 (seen as sporadic NaN scores)."""
    scores = torch.bmm(query, key.transpose(-1, -2)) * self.scale
    if attention_mask is not None:
        scores = scores + attention_mask
    return scores.softmax(dim=-1)


Attention.get_attention_scores = attention_scores_float64


def make_model():
    torch.manual_seed(SEED)
    model = UNet2DModel(**CONFIG)
    # Random weights have no structure, so two of them make the ODE needlessly hard: the fourier features
    # (scale 16) of log σ oscillate hundreds of times over t in [0, 1], and an O(1) output is a score of
    # O(1/σ). Scale 1 and a 10x smaller last conv keep the solve to ~300 evaluations, so the test is about the
    # integration, not about chaotic dynamics.
    with torch.no_grad():
        model.time_proj.weight.mul_(1 / 16)
        model.conv_out.weight.mul_(0.1)
        model.conv_out.bias.mul_(0.1)
    return model.eval()


def make_data():
    """Two 8-bit 1x4x4 images: a diagonal gradient and a centred blob, as k/255."""
    h = np.arange(4)[:, None]
    w = np.arange(4)[None, :]
    grad = np.floor(255 * (h + w) / 6 + 0.5)
    blob = np.floor(255 * np.exp(-((h - 1.5) ** 2 + (w - 1.5) ** 2) / 2) + 0.5)
    k = np.stack([grad, blob])[:, None].astype(np.uint8)  # (2, 1, 4, 4)
    return k


def likelihood(model, x0, divergence, noise=None, rtol=1e-5, atol=1e-5):
    shape = x0.shape
    b = shape[0]
    d = int(np.prod(shape[1:]))
    log_ratio = np.log(SIGMA_MAX / SIGMA_MIN)
    basis = torch.eye(d, dtype=torch.float64).repeat_interleave(b, 0).reshape(d * b, *shape[1:])
    nfe = [0]

    def score_and_trace(x, sigma):
        if divergence == "exact":
            xr = x.repeat(d, 1, 1, 1).requires_grad_(True)  # basis-major rows: (i, b)
            v = basis
        else:
            xr = x.clone().requires_grad_(True)
            v = noise
        with torch.enable_grad():
            out = model(xr, torch.full((xr.shape[0],), sigma, dtype=torch.float64)).sample
            g = torch.autograd.grad((out * v).sum(), xr)[0]
        tr = (g * v).reshape(-1, b, d).sum(dim=(0, 2))
        return out[:b].detach(), tr.detach()

    def f(t, y):
        nfe[0] += 1
        x = torch.from_numpy(y[:-b].copy()).reshape(shape)
        sigma = SIGMA_MIN * (SIGMA_MAX / SIGMA_MIN) ** t
        s, tr = score_and_trace(x, sigma)
        c = -sigma * sigma * log_ratio
        return np.concatenate([(c * s).numpy().reshape(-1), (c * tr).numpy()])

    y0 = np.concatenate([x0.reshape(-1), np.zeros(b)])
    sol = integrate.solve_ivp(f, (EPS, 1.0), y0, rtol=rtol, atol=atol, method="RK45")
    assert sol.success, sol.message
    z = sol.y[:-b, -1].reshape(b, d)
    delta = sol.y[-b:, -1]
    prior = -d / 2 * np.log(2 * np.pi * SIGMA_MAX**2) - (z**2).sum(axis=1) / (2 * SIGMA_MAX**2)
    bpd = -(prior + delta) / (d * np.log(2)) + 8
    return dict(
        bitsPerDim=bpd.tolist(),
        priorLogp=prior.tolist(),
        deltaLogp=delta.tolist(),
        nfe=int(sol.nfev),
        latentNorm=np.linalg.norm(z, axis=1).tolist(),
        rtol=rtol,
        atol=atol,
    )


def main():
    torch.set_num_threads(1)
    model = make_model()
    os.makedirs(OUT, exist_ok=True)
    model.save_pretrained(OUT, safe_serialization=True)
    k = make_data()
    x0 = (k.astype(np.float32) / 255).astype(np.float64)  # the float32 values the dataset gives, widened
    model64 = model.double()
    shape = x0.shape
    runs = {}
    runs["exact"] = likelihood(model64, x0, "exact")
    # The same ODE solved 1000x tighter: how far the rtol = atol = 1e-5 solution is from the exact one.
    runs["exact_tol1e-8"] = likelihood(model64, x0, "exact", rtol=1e-8, atol=1e-8)
    g = torch.Generator().manual_seed(SEED)
    gauss = torch.randn(shape, generator=g).double()
    runs["hutchinson-gaussian"] = likelihood(model64, x0, "hutchinson", noise=gauss)
    g = torch.Generator().manual_seed(SEED)
    rade = (torch.randint(0, 2, shape, generator=g) * 2 - 1).double()
    runs["hutchinson-rademacher"] = likelihood(model64, x0, "hutchinson", noise=rade)
    ref = dict(
        about="float64 PyTorch + scipy RK45 reference for computeLikelihood; see tools/likelihood-reference",
        torch=torch.__version__,
        sigmaMin=SIGMA_MIN,
        sigmaMax=SIGMA_MAX,
        eps=EPS,
        seed=SEED,
        dequantize=False,
        data8bit=k.reshape(-1).tolist(),
        shape=list(shape),
        runs=runs,
    )
    with open(os.path.join(OUT, "reference.json"), "w") as fh:
        json.dump(ref, fh, indent=1)
        fh.write("\n")
    print(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
