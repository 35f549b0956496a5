"""capture(): Q/K/V from a PyTorch model's projections, through run(). The helpers are tested
without PyTorch; the hooks themselves need it and are skipped where it is not installed."""

import numpy as np
import pytest

import spatten_sim as ss
from spatten_sim import torch_capture as cap


def test_split_heads_and_fused_projections():
    x = np.arange(2 * 6, dtype=np.float64).reshape(2, 6)  # 2 tokens, hidden 6
    h = cap.split_heads(x, 3)
    assert h.dtype == np.float32 and h.shape == (3, 2, 2) and h.flags.c_contiguous
    assert h[1, 0].tolist() == [2.0, 3.0] and h[2, 1].tolist() == [10.0, 11.0]
    assert cap.split_heads(x[None], 3).tolist() == h.tolist()
    with pytest.raises(ValueError, match="not a multiple of 4 heads"):
        cap.split_heads(x, 4)
    with pytest.raises(ValueError, match="batch 2"):
        cap.split_heads(np.zeros((2, 2, 6)), 3)
    q, k, v = cap.split_fused(np.concatenate([x, x + 100, x + 200], axis=1), 3)
    assert q.tolist() == h.tolist() and (k - 100).tolist() == h.tolist()
    assert (v - 200).tolist() == h.tolist()


class FakeModule:
    """Just enough of torch.nn.Module for name-based discovery."""

    def __init__(self, children=(), **attrs):
        self.children = dict(children)
        self.__dict__.update(attrs)

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self.children.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)


def test_projections_and_heads_are_found_by_name():
    layers = [FakeModule({"attn": FakeModule({n: FakeModule() for n in ("q_proj", "k_proj", "v_proj")})})
              for _ in range(2)]
    model = FakeModule({f"layer{i}": m for i, m in enumerate(layers)}, num_heads=4)
    found = cap.find_projections(model)
    assert len(found) == 2 and all(len(t) == 3 for t in found)
    assert found[1][2] is layers[1].children["attn"].children["v_proj"]
    assert cap.find_heads(model) == 4
    fused = FakeModule({"h": FakeModule({"c_attn": FakeModule()})},
                       config=FakeModule(n_head=12, model_type="gpt2"))
    assert len(cap.find_projections(fused)) == 1 and cap.find_heads(fused) == 12
    with pytest.raises(ValueError, match="rotary"):
        cap.find_projections(FakeModule(config=FakeModule(model_type="llama")))
    with pytest.raises(ValueError, match="grouped-query"):
        cap.find_heads(FakeModule(config=FakeModule(num_attention_heads=8, num_key_value_heads=2)))
    with pytest.raises(ValueError, match="found no attention projections"):
        cap.find_projections(FakeModule())
    with pytest.raises(ValueError, match="pass heads="):
        cap.find_heads(FakeModule())


def tiny_model(torch, layers=2, hidden=64, heads=2):
    class Attention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj = torch.nn.Linear(hidden, hidden)
            self.k_proj = torch.nn.Linear(hidden, hidden)
            self.v_proj = torch.nn.Linear(hidden, hidden)
            self.out = torch.nn.Linear(hidden, hidden)

        def forward(self, x):
            t, d = x.shape[1], hidden // heads
            q, k, v = (p(x).view(1, t, heads, d).transpose(1, 2)
                       for p in (self.q_proj, self.k_proj, self.v_proj))
            a = torch.softmax(q @ k.transpose(-1, -2) / d ** 0.5, dim=-1) @ v
            return x + self.out(a.transpose(1, 2).reshape(1, t, hidden))

    class Model(torch.nn.Module):
        num_heads = heads

        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(Attention() for _ in range(layers))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    return Model().eval()


def test_capture_records_each_projection_and_runs(workdir):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = tiny_model(torch)
    x = torch.randn(1, 16, 64)
    values = ss.capture(model, x)
    assert sorted(values) == [f"layers.{i}.{n}" for i in range(2) for n in "kqv"]
    assert all(a.shape == (2, 16, 32) and a.dtype == np.float32 for a in values.values())
    # Layer 0's Q is the projection of the input itself, split into heads.
    with torch.no_grad():
        q0 = model.layers[0].q_proj(x)[0].numpy()
    assert np.allclose(values["layers.0.q"], cap.split_heads(q0, 2))
    (workdir / "cap.toml").write_text(
        'base = "bert-base"\nname = "cap"\n[model]\nlayers = 2\nheads = 2\nhead_dim = 32\nhidden = 64\n'
        "[stage]\nprompt_tokens = 16\n")
    r = ss.run("spatten", "cap.toml", values=values)
    assert r.stats["cycles"] > 0 and r.stats["input"] == "numpy arrays"
    # Explicit projections give the same capture; no hook is left behind.
    explicit = [(m.q_proj, m.k_proj, m.v_proj) for m in model.layers]
    again = ss.capture(model, (x,), heads=2, projections=explicit)
    assert all(np.array_equal(again[k], values[k]) for k in values)
    assert not model.layers[0].q_proj._forward_hooks


def test_capture_says_when_torch_is_missing():
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs PyTorch"):
            ss.capture(FakeModule(), None, heads=1, projections=[FakeModule()])
    else:
        pytest.skip("PyTorch is installed")
