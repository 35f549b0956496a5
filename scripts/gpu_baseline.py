#!/usr/bin/env python3
"""Measure dense attention latency (and GPU power) with PyTorch, as the SpAtten paper did.

Writes a baseline result file (format "spatten-baseline", version 1; the schema is documented
in sim/baseline/result.rs) that `spatten baseline read FILE` validates and reports use.

Method (the SpAtten paper's evaluation):
  * --code hf (default): the models' own attention code as Hugging Face transformers 3.x runs
    it at batch 1, operator for operator as sim/baseline/framework.rs lists it (BERT: view and
    permute per head split, transpose, matmul, scale, mask add, softmax, dropout, matmul,
    permute + contiguous + view; GPT-2: split of the fused QKV, split_heads, cat of the KV cache
    with the new K/V, stack into `present`, matmul, scale, causal-mask slice + where, softmax,
    dropout, matmul, merge_heads). --code minimal: only S = Q K^T / sqrt(D), softmax, P V.
    Both count the same dense-attention work (sim/baseline/work.rs). Summarization: L x L for
    the prompt. Generation: per generated token i and layer, one query at position prompt + i
    against prompt + i + 1 keys; every layer has its own K/V so the cache really streams.
  * Latency: --warmup untimed runs, then --runs timed runs (default 1000) of a stage, timed by
    CUDA events (GPU) or time.perf_counter (--device cpu). Reported latency: the paper's mean
    after dropping the top and bottom 15 %; the median is recorded beside it.
  * Power: nvidia-smi polled in a thread (power.draw every --poll-ms). Idle power is measured
    first with the GPU doing nothing; loaded power while the stage runs back to back for at least
    --power-seconds. Dynamic power = loaded - idle; energy = dynamic power x median latency.

Usage:
  python3 scripts/gpu_baseline.py --workload workloads/bert-base.toml --out titan-xp-bert.json
  python3 scripts/gpu_baseline.py --layers 12 --heads 12 --head-dim 64 --stage generation \\
      --prompt-tokens 992 --generated-tokens 32 --causal --name gpt2-small --out gpt2.json
Then: spatten baseline read gpt2.json

Needs PyTorch (with CUDA and nvidia-smi on PATH for a GPU). --no-power skips the power
measurement (the file then records zero energy and says so); --device cpu never measures power
(`spatten baseline measure-cpu --framework torch` runs this script and adds the host's energy).
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

FORMAT = "spatten-baseline"
VERSION = 1
TRIM_FRACTION = 0.15
SOFTMAX_OPS_PER_SCORE = 4  # scale, exp, accumulate, divide (sim/baseline/work.rs)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --------------------------------------------------------------------------------------------
# Workload shape


def load_toml(path):
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # pragma: no cover
        sys.exit("error: reading --workload needs Python 3.11+ (tomllib); pass the shape flags")
    with open(path, "rb") as f:
        return tomllib.load(f)


def merged_workload(path, depth=0):
    """Reads a workload TOML, applying `base` (a preset name in workloads/ or a path)."""
    if depth > 8:
        sys.exit(f"error: {path}: base chain deeper than 8")
    table = load_toml(path)
    base = table.get("base")
    if base is None:
        return table
    candidates = [os.path.join(os.path.dirname(path), base), os.path.join(REPO, "workloads", base + ".toml")]
    for c in candidates:
        if os.path.isfile(c):
            merged = merged_workload(c, depth + 1)
            for k, v in table.items():
                if isinstance(v, dict) and isinstance(merged.get(k), dict):
                    merged[k].update(v)
                else:
                    merged[k] = v
            return merged
    sys.exit(f"error: {path}: key `base`: cannot find {base!r}")


def shape_from_args(a):
    if a.workload:
        t = merged_workload(a.workload)
        try:
            m, s = t["model"], t["stage"]
            shape = dict(
                name=t["name"],
                layers=int(m["layers"]),
                heads=int(m["heads"]),
                head_dim=int(m["head_dim"]),
                causal=bool(m["causal"]),
                stage=s["kind"],
                prompt_tokens=int(s["prompt_tokens"]),
                generated_tokens=int(s["generated_tokens"]),
            )
        except KeyError as e:
            sys.exit(f"error: {a.workload}: missing key {e}")
    else:
        missing = [f for f in ("layers", "heads", "head_dim", "prompt_tokens") if getattr(a, f) is None]
        if missing:
            sys.exit("error: give --workload FILE or all of --layers --heads --head-dim --prompt-tokens")
        shape = dict(
            name=a.name,
            layers=a.layers,
            heads=a.heads,
            head_dim=a.head_dim,
            causal=a.causal,
            stage=a.stage,
            prompt_tokens=a.prompt_tokens,
            generated_tokens=a.generated_tokens,
        )
    if shape["stage"] not in ("summarization", "generation"):
        sys.exit(f"error: stage must be summarization or generation (got {shape['stage']!r})")
    if shape["stage"] == "summarization" and shape["generated_tokens"] != 0:
        sys.exit("error: a summarization stage generates 0 tokens")
    if shape["stage"] == "generation" and shape["generated_tokens"] < 1:
        sys.exit("error: a generation stage needs --generated-tokens >= 1")
    for k in ("layers", "heads", "head_dim", "prompt_tokens"):
        if shape[k] < 1:
            sys.exit(f"error: {k} must be >= 1")
    return shape


# --------------------------------------------------------------------------------------------
# Dense-attention counts: the same formulas as sim/baseline/work.rs (the Rust reader checks).


def step_counts(h, d, lq, lk, e):
    ops = 2 * h * lq * lk * d + SOFTMAX_OPS_PER_SCORE * h * lq * lk + 2 * h * lq * lk * d
    byts = e * h * (lq * d + lk * d + lq * lk) + e * h * 2 * lq * lk + e * h * (lq * lk + lk * d + lq * d)
    return ops, byts


def stage_counts(shape, elem_bytes):
    n, h, d, p = shape["layers"], shape["heads"], shape["head_dim"], shape["prompt_tokens"]
    ops, byts = step_counts(h, d, p, p, elem_bytes)
    out = {"summarization": (n * ops, n * byts)}
    if shape["stage"] == "generation":
        tot_o = tot_b = 0
        for i in range(shape["generated_tokens"]):
            o, b = step_counts(h, d, 1, p + i + 1, elem_bytes)
            tot_o += n * o
            tot_b += n * b
        out["generation"] = (tot_o, tot_b)
    return out


# --------------------------------------------------------------------------------------------
# Statistics


def trimmed_mean(samples, fraction=TRIM_FRACTION):
    s = sorted(samples)
    cut = int(math.floor(len(s) * fraction))
    kept = s[cut : len(s) - cut]
    return sum(kept) / len(kept)


# --------------------------------------------------------------------------------------------
# Power


class PowerPoller:
    """Polls `nvidia-smi --query-gpu=power.draw` for one GPU in a background thread."""

    def __init__(self, index, poll_ms):
        self.cmd = [
            "nvidia-smi",
            f"--id={index}",
            "--query-gpu=power.draw",
            "--format=csv,noheader,nounits",
            f"--loop-ms={poll_ms}",
        ]
        self.samples = []
        self.proc = None
        self.thread = None

    def __enter__(self):
        self.samples = []
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        return self

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.samples.append(float(line.strip()))
            except ValueError:
                pass  # "[N/A]" or a header line

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=5)
        self.thread.join(timeout=5)

    def mean_w(self):
        # The first sample can straddle the start; drop it when there are enough.
        s = self.samples[1:] if len(self.samples) > 3 else self.samples
        return sum(s) / len(s) if s else None


# --------------------------------------------------------------------------------------------
# Measurement


# --------------------------------------------------------------------------------------------
# The timed code


def minimal_stages(torch, shape, dev, dtype):
    """S = Q K^T / sqrt(D), softmax, P V per layer, all heads batched."""
    n, h, d = shape["layers"], shape["heads"], shape["head_dim"]
    p, g = shape["prompt_tokens"], shape["generated_tokens"]
    scale = 1.0 / math.sqrt(d)
    layers = [tuple(torch.rand(h, p + g, d, device=dev, dtype=dtype) * 2 - 1 for _ in range(3)) for _ in range(n)]
    mask = torch.ones(p, p, device=dev, dtype=torch.bool).triu(1) if shape["causal"] else None

    def summarization():
        for q, k, v in layers:
            s = torch.matmul(q[:, :p], k[:, :p].transpose(-1, -2)) * scale
            if mask is not None:
                s = s.masked_fill(mask, float("-inf"))
            torch.matmul(torch.softmax(s, dim=-1), v[:, :p])

    def generation():
        for i in range(g):
            pos = p + i
            for q, k, v in layers:
                s = torch.matmul(q[:, pos : pos + 1], k[:, : pos + 1].transpose(-1, -2)) * scale
                torch.matmul(torch.softmax(s, dim=-1), v[:, : pos + 1])

    return summarization, generation


def hf_stages(torch, shape, dev, dtype):
    """The attention code of HF transformers 3.x BertSelfAttention / GPT-2 Attention at batch 1,
    starting from the projections' outputs (the FC layers are not timed, as in the paper)."""
    import torch.nn.functional as F

    n, h, d = shape["layers"], shape["heads"], shape["head_dim"]
    p, g = shape["prompt_tokens"], shape["generated_tokens"]
    hidden = h * d
    rand = lambda *s: torch.rand(*s, device=dev, dtype=dtype) * 2 - 1

    def heads(x, k=False):  # split_heads / transpose_for_scores
        x = x.view(x.size(0), x.size(1), h, d)
        return x.permute(0, 2, 3, 1) if k else x.permute(0, 2, 1, 3)

    def merge(x):  # merge_heads / context_layer reshape
        x = x.permute(0, 2, 1, 3).contiguous()
        return x.view(x.size(0), x.size(1), hidden)

    if not shape["causal"]:
        qkv = [tuple(rand(1, p, hidden) for _ in range(3)) for _ in range(n)]
        attention_mask = torch.zeros(1, 1, 1, p, device=dev, dtype=dtype)

        def summarization():
            for q, k, v in qkv:
                q, k, v = heads(q), heads(k), heads(v)
                s = torch.matmul(q, k.transpose(-1, -2))
                s = s / math.sqrt(d)
                s = s + attention_mask
                prob = F.dropout(torch.softmax(s, dim=-1), p=0.1, training=False)
                merge(torch.matmul(prob, v))

        return summarization, None

    bias = torch.tril(torch.ones(p + g, p + g, dtype=torch.uint8, device=dev)).view(1, 1, p + g, p + g)
    masked_bias = torch.tensor(-1e4, device=dev, dtype=dtype)

    def attend(x, past):
        q, k, v = x.split(hidden, dim=2)
        q, k, v = heads(q), heads(k, k=True), heads(v)
        if past is not None:
            past_key, past_value = past[0].transpose(-2, -1), past[1]
            k = torch.cat((past_key, k), dim=-1)
            v = torch.cat((past_value, v), dim=-2)
        present = torch.stack((k.transpose(-2, -1), v))
        w = torch.matmul(q, k)
        w = w / float(v.size(-1)) ** 0.5
        nd, ns = w.size(-2), w.size(-1)
        mask = bias[:, :, ns - nd : ns, :ns]
        w = torch.where(mask.bool(), w, masked_bias.to(w.dtype))
        w = F.dropout(torch.softmax(w, dim=-1), p=0.1, training=False)
        merge(torch.matmul(w, v))
        return present

    prompt_x = [rand(1, p, 3 * hidden) for _ in range(n)]
    step_x = [[rand(1, 1, 3 * hidden) for _ in range(n)] for _ in range(g)]
    # The prompt's cache, built once: every timed generation run starts from it.
    with torch.no_grad():
        prompt_past = [attend(x, None) for x in prompt_x]

    def summarization():
        for x in prompt_x:
            attend(x, None)

    def generation():
        past = list(prompt_past)
        for i in range(g):
            for layer in range(n):
                past[layer] = attend(step_x[i][layer], past[layer])

    return summarization, generation


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", help="workload TOML (workloads/*.toml); or give the shape flags")
    ap.add_argument("--name", default="custom")
    ap.add_argument("--layers", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--head-dim", type=int)
    ap.add_argument("--stage", default="summarization", choices=["summarization", "generation"])
    ap.add_argument("--prompt-tokens", type=int)
    ap.add_argument("--generated-tokens", type=int, default=0)
    ap.add_argument("--causal", action="store_true")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "fp16"])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--device", default="cuda:0", help="cuda:N or cpu")
    ap.add_argument("--code", default="hf", choices=["hf", "minimal"],
                    help="hf: the HF models' attention operators (the paper's); minimal: matmul/softmax/matmul")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads for --device cpu")
    ap.add_argument("--idle-seconds", type=float, default=5.0)
    ap.add_argument("--power-seconds", type=float, default=10.0)
    ap.add_argument("--poll-ms", type=int, default=50)
    ap.add_argument("--no-power", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.runs < 1 or a.warmup < 0:
        sys.exit("error: --runs must be >= 1 and --warmup >= 0")
    shape = shape_from_args(a)

    try:
        import torch
    except ImportError:
        sys.exit("error: this script needs PyTorch (pip install torch)")
    on_cpu = a.device == "cpu"
    if on_cpu:
        a.no_power = True
        if a.threads:
            torch.set_num_threads(a.threads)
    elif not torch.cuda.is_available():
        sys.exit("error: no CUDA device visible to PyTorch (use --device cpu for the CPU)")
    dev = torch.device(a.device)
    index = dev.index if dev.index is not None else 0
    dtype = torch.float32 if a.precision == "fp32" else torch.float16
    elem_bytes = 4 if a.precision == "fp32" else 2
    torch.manual_seed(a.seed)
    summarization, generation = (hf_stages if a.code == "hf" else minimal_stages)(torch, shape, dev, dtype)
    if shape["stage"] == "generation" and generation is None:
        sys.exit("error: --code hf generates with GPT-2's code, which needs --causal")
    stages = [("summarization", summarization)]
    if shape["stage"] == "generation":
        stages.append(("generation", generation))
    counts = stage_counts(shape, elem_bytes)

    idle_w = None
    if not a.no_power:
        torch.cuda.synchronize()
        with PowerPoller(index, a.poll_ms) as poll:
            time.sleep(a.idle_seconds)
        idle_w = poll.mean_w()
        if idle_w is None:
            sys.exit("error: nvidia-smi returned no power.draw samples (use --no-power to skip)")

    results = []
    with torch.no_grad():
        for name, fn in stages:
            for _ in range(a.warmup):
                fn()
            times = []
            if on_cpu:
                for _ in range(a.runs):
                    t0 = time.perf_counter()
                    fn()
                    times.append(time.perf_counter() - t0)
            else:
                torch.cuda.synchronize()
                for _ in range(a.runs):
                    start = torch.cuda.Event(enable_timing=True)
                    end = torch.cuda.Event(enable_timing=True)
                    start.record()
                    fn()
                    end.record()
                    end.synchronize()
                    times.append(start.elapsed_time(end) / 1e3)
            med = statistics.median(times)
            headline = trimmed_mean(times)
            power_w = 0.0
            if not a.no_power:
                with PowerPoller(index, a.poll_ms) as poll:
                    t0 = time.time()
                    while time.time() - t0 < a.power_seconds:
                        fn()
                    torch.cuda.synchronize()
                loaded = poll.mean_w()
                if loaded is None:
                    sys.exit("error: nvidia-smi returned no power.draw samples while running")
                power_w = max(loaded - idle_w, 0.0)
            ops, byts = counts[name]
            results.append(
                {
                    "stage": name,
                    "ops": ops,
                    "bytes": byts,
                    "latency_s": headline,
                    "power_w": power_w,
                    "energy_j": power_w * headline,
                    "timing": {
                        "runs": a.runs,
                        "warmup": a.warmup,
                        "median_s": med,
                        "trimmed_mean_s": trimmed_mean(times),
                        "trim_fraction": TRIM_FRACTION,
                        "min_s": min(times),
                        "max_s": max(times),
                    },
                }
            )
            print(f"{name}: trimmed mean {headline * 1e3:.4f} ms, median {med * 1e3:.4f} ms, "
                  f"dynamic power {power_w:.1f} W", file=sys.stderr)

    energy_method = (
        "not measured (--no-power)"
        if a.no_power
        else f"nvidia-smi power.draw every {a.poll_ms} ms: loaded (stage run back to back for "
        f"{a.power_seconds} s) minus idle ({idle_w:.1f} W over {a.idle_seconds} s), x trimmed-mean latency"
    )
    if on_cpu:
        import platform

        name = "host-torch"
        description = f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads (PyTorch {torch.__version__})"
        kind = "cpu"
    else:
        gpu = torch.cuda.get_device_name(index)
        name = gpu.lower().replace(" ", "-")
        description = f"{gpu} (PyTorch {torch.__version__}, CUDA {torch.version.cuda})"
        kind = "gpu"
    code_note = (
        "the HF models' attention operators in eager mode (BERT / GPT-2 code, sim/baseline/framework.rs)"
        if a.code == "hf"
        else "minimal dense attention: matmul, softmax, matmul per layer, all heads batched"
    )
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "device": name,
        "device_description": description,
        "device_kind": kind,
        "provenance": "measured",
        "precision": a.precision,
        "workload": shape,
        "energy_method": energy_method,
        "stages": results,
        "notes": [
            f"PyTorch eager: {code_note}; {'time.perf_counter' if on_cpu else 'CUDA-event'} timing; "
            f"latency = mean of {a.runs} runs after dropping the top and bottom 15 % (the paper's protocol)"
        ],
    }
    out_dir = os.path.dirname(os.path.abspath(a.out))
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".gpu_baseline.")
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, a.out)
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
