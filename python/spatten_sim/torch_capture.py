"""Capture the Q, K and V a PyTorch model's attention multiplies, as spatten value tensors.

Forward hooks on each layer's Q, K and V projections record their outputs during one forward
pass; each is split into heads as a float32 [heads, tokens, head_dim] numpy array. The result
is the dict that ``spatten_sim.run(values=...)`` and ``spatten_sim.reference`` accept. PyTorch
is imported only when ``capture`` is called.
"""

import numpy as np

# Model types that rotate Q and K after the projection (rotary embeddings): projection
# outputs are not what the softmax sees, so they are refused rather than captured wrongly.
ROTARY_TYPES = {"llama", "mistral", "mixtral", "gpt_neox", "gptj", "qwen2", "phi", "gemma", "falcon"}

SEPARATE_NAMES = (("query", "key", "value"), ("q_proj", "k_proj", "v_proj"))
FUSED_NAMES = ("c_attn", "qkv", "qkv_proj", "in_proj")


def split_heads(x, heads):
    """[tokens, hidden] (or [1, tokens, hidden]) -> float32 [heads, tokens, hidden / heads]."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        if x.shape[0] != 1:
            raise ValueError(f"projection output has batch {x.shape[0]}; capture one sequence")
        x = x[0]
    if x.ndim != 2:
        raise ValueError(f"projection output has shape {x.shape}, expected [tokens, hidden]")
    tokens, hidden = x.shape
    if hidden % heads:
        raise ValueError(f"hidden size {hidden} is not a multiple of {heads} heads")
    return np.ascontiguousarray(x.reshape(tokens, heads, hidden // heads).transpose(1, 0, 2))


def split_fused(x, heads):
    """A fused QKV projection's output [tokens, 3 * hidden] -> (q, k, v) in thirds."""
    x = np.asarray(x, dtype=np.float32)
    if x.shape[-1] % 3:
        raise ValueError(f"fused QKV width {x.shape[-1]} is not a multiple of 3")
    return tuple(split_heads(p, heads) for p in np.split(x, 3, axis=-1))


def find_projections(model):
    """Per attention layer, in module order: a (q, k, v) module triple or one fused module."""
    kind = getattr(getattr(model, "config", None), "model_type", "")
    if kind in ROTARY_TYPES:
        raise ValueError(f"{kind}: rotary position embeddings are applied after the Q/K "
                         "projections; capturing projection outputs would be wrong")
    for names in SEPARATE_NAMES:
        blocks = {}
        for name, module in model.named_modules():
            parent, _, leaf = name.rpartition(".")
            if leaf in names:
                blocks.setdefault(parent, {})[leaf] = module
        complete = [b for b in blocks.values() if len(b) == 3]
        if complete:
            return [tuple(b[n] for n in names) for b in complete]
    fused = [m for name, m in model.named_modules() if name.rpartition(".")[2] in FUSED_NAMES]
    if fused:
        return fused
    raise ValueError("found no attention projections: name them query/key/value, "
                     "q_proj/k_proj/v_proj or a fused c_attn/qkv, or pass projections=")


def find_heads(model):
    cfg = getattr(model, "config", None)
    for attr in ("num_attention_heads", "n_head", "num_heads"):
        for owner in (cfg, model):
            n = getattr(owner, attr, None)
            if isinstance(n, int) and n > 0:
                kv = getattr(cfg, "num_key_value_heads", n)
                if kv != n:
                    raise ValueError(f"{kv} K/V heads for {n} Q heads (grouped-query "
                                     "attention): a value set holds one shape for Q, K and V")
                return n
    raise ValueError("cannot tell the number of heads from the model: pass heads=")


def capture(model, inputs, *, heads=None, projections=None):
    """Runs ``model`` once on ``inputs`` and returns its attention Q, K and V per layer.

    - ``inputs``: a tensor (the single positional argument), a tuple or list (positional
      arguments) or a dict (keyword arguments, e.g. a tokenizer's output); batch size 1.
    - ``heads``: attention heads (default: ``model.config.num_attention_heads`` / ``n_head``,
      or the model's ``num_heads``).
    - ``projections``: per layer a ``(q, k, v)`` triple of modules or one fused module whose
      output holds Q, K and V in thirds (default: found by name: ``query``/``key``/``value``,
      ``q_proj``/``k_proj``/``v_proj``, or a fused ``c_attn``/``qkv``).

    Returns ``{"layers.0.q": ndarray, "layers.0.k": ..., "layers.0.v": ..., "layers.1.q": ...}``,
    each float32 [heads, tokens, head_dim]. Models with rotary embeddings or grouped-query
    attention are refused (their projection outputs are not what the softmax multiplies).
    """
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("spatten_sim.capture needs PyTorch (pip install torch)") from e

    blocks = list(projections) if projections is not None else find_projections(model)
    if not blocks:
        raise ValueError("projections is empty")
    heads = heads if heads is not None else find_heads(model)
    outputs = {}

    def hook(key):
        def record(_module, _inputs, output):
            out = output[0] if isinstance(output, tuple) else output
            outputs[key] = out.detach().to(torch.float32).cpu().numpy()
        return record

    handles = []
    try:
        for i, block in enumerate(blocks):
            if isinstance(block, (tuple, list)):
                if len(block) != 3:
                    raise ValueError(f"projections[{i}] has {len(block)} modules, expected q, k, v")
                for name, module in zip("qkv", block):
                    handles.append(module.register_forward_hook(hook((i, name))))
            else:
                handles.append(block.register_forward_hook(hook((i, "qkv"))))
        with torch.no_grad():
            if isinstance(inputs, dict):
                model(**inputs)
            elif isinstance(inputs, (tuple, list)):
                model(*inputs)
            else:
                model(inputs)
    finally:
        for h in handles:
            h.remove()

    values = {}
    for i, block in enumerate(blocks):
        if isinstance(block, (tuple, list)):
            missing = [n for n in "qkv" if (i, n) not in outputs]
            if missing:
                raise ValueError(f"layer {i}: the forward pass never ran projection(s) {missing}")
            qkv = [split_heads(outputs[(i, n)], heads) for n in "qkv"]
        else:
            if (i, "qkv") not in outputs:
                raise ValueError(f"layer {i}: the forward pass never ran its fused projection")
            qkv = split_fused(outputs[(i, "qkv")], heads)
        for name, a in zip("qkv", qkv):
            values[f"layers.{i}.{name}"] = a
    return values
