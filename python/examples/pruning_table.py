"""Two pruning settings on one model's attention, in process: a notebook in script form.

  pip install ./python            # from the checkout's root (torch and pandas are optional)
  python python/examples/pruning_table.py

With PyTorch installed, Q/K/V come from a tiny randomly initialised transformer through
`spatten_sim.capture` (forward hooks on its projections); without it, from the simulator's
synthetic generator. Either way each setting runs the bit-exact reference, the cycle-level
simulator and the energy model, and the script prints one row per setting.
"""

import spatten_sim as ss

LAYERS, HEADS, HIDDEN, TOKENS = 4, 4, 256, 64

# %% The workload: BERT-base's settings on the tiny model's shape (dotted keys via `__`).
shape = dict(model__layers=LAYERS, model__heads=HEADS, model__head_dim=HIDDEN // HEADS,
             model__hidden=HIDDEN, stage__prompt_tokens=TOKENS)


# %% Values: captured from a PyTorch model when torch is there.
def tiny_torch_values():
    import torch

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj, self.k_proj, self.v_proj, self.o_proj = (
                torch.nn.Linear(HIDDEN, HIDDEN) for _ in range(4))

        def forward(self, x):
            d = HIDDEN // HEADS
            q, k, v = (p(x).view(1, TOKENS, HEADS, d).transpose(1, 2)
                       for p in (self.q_proj, self.k_proj, self.v_proj))
            a = torch.softmax(q @ k.transpose(-1, -2) / d ** 0.5, dim=-1) @ v
            return x + self.o_proj(a.transpose(1, 2).reshape(1, TOKENS, HIDDEN))

    torch.manual_seed(0)
    model = torch.nn.Sequential(*(Block() for _ in range(LAYERS))).eval()
    return ss.capture(model, torch.randn(1, TOKENS, HIDDEN), heads=HEADS)


try:
    values, source = tiny_torch_values(), "a tiny PyTorch model (capture)"
except ImportError:
    values, source = None, "synthetic values (no PyTorch here)"
print(f"values: {source}")

# %% Two settings: no token pruning, and half the tokens pruned on average (no ramp).
rows = []
for ratio in (0.0, 0.5):
    workload = ss.load_workload("bert-base", token_pruning__average_ratio=ratio,
                              token_pruning__ramp=0.0, **shape)
    r = ss.run("spatten", workload, values=values)
    s = r.stats
    titan = next(b for b in r.baselines if b["device"] == "titan-xp")
    rows.append({
        "token pruning": ratio,
        "cycles": s["cycles"],
        "DRAM MB": s["dram"]["bytes_read"] / 1e6,
        "energy uJ": r.energy["total_j"] * 1e6,
        "speedup vs TITAN Xp": titan["speedup"],
    })

# %% The table (pandas when installed).
try:
    import pandas as pd

    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
except ImportError:
    print("  ".join(f"{k:>20}" for k in rows[0]))
    for row in rows:
        print("  ".join(f"{v:>20.3f}" if isinstance(v, float) else f"{v:>20}" for v in row.values()))
