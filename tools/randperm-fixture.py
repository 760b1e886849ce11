"""Writes test/fixtures/data/randperm.json: torch.randperm and torch DataLoader shuffling orders on CPU.
Run with the reference environment: source ../shared/refenv/env.sh && $REF_PY tools/randperm-fixture.py"""
import hashlib
import json
import sys

import torch
from torch.utils.data import DataLoader, TensorDataset

out = {"torch": torch.__version__, "randperm": [], "dataloader": []}
for n, seed in [(1, 0), (2, 0), (10, 0), (10, 1234), (1000, 42), (60000, 0)]:
    g = torch.Generator().manual_seed(seed)
    p = torch.randperm(n, generator=g)
    case = {"n": n, "seed": seed, "next_u32_after": int(torch.randint(0, 2**31, (1,), generator=g))}
    if n <= 1000:
        case["perm"] = p.tolist()
    else:
        case["head"] = p[:16].tolist()
        case["sha256_int32le"] = hashlib.sha256(p.to(torch.int32).numpy().astype("<i4").tobytes()).hexdigest()
    out["randperm"].append(case)

# the loader order: DataLoader(shuffle=True, generator=g, drop_last=True), three epochs
for n, batch, seed in [(10, 3, 7), (11, 4, 2024)]:
    g = torch.Generator().manual_seed(seed)
    dl = DataLoader(TensorDataset(torch.arange(n)), batch_size=batch, shuffle=True, generator=g, drop_last=True)
    epochs = [[b[0].tolist() for b in dl] for _ in range(3)]
    out["dataloader"].append({"n": n, "batch_size": batch, "seed": seed, "epochs": epochs})

json.dump(out, sys.stdout, indent=1)
sys.stdout.write("\n")
