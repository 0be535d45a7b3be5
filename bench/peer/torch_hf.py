#!/usr/bin/env python3
"""PyTorch peer of bench/hf.ts: a Hugging Face Llama folder (SmolLM2-135M's shape in the bench)
loaded, sampled and trained in float32 on the CPU, so that rpt's figures on the same folders have
a reference on the same machine.

    python3 bench/peer/torch_hf.py --bf16 DIR --f32 DIR [--threads N] [--batch N] [--prompt N]
        [--new-tokens N] [--train-batch N] [--train-seq N] [--steps N] [--json]

Each DIR holds config.json and model.safetensors of the same LlamaForCausalLM, its weights stored
as BF16 in one and F32 in the other. The model is written by hand after transformers'
modeling_llama.py (grouped-query attention in repeat_kv's head order, "rotate half" RoPE, a tied or
untied LM head), since neither transformers nor safetensors need be installed: the safetensors
header is parsed with json and each tensor viewed with torch.frombuffer.

Figures (the names and format of bench/report.ts: `name: value unit` lines, or one JSON object
{name: {value, unit}} with --json, facts under "facts"):
  load_bf16_s          config.json and the BF16 folder's weights into a model computing in f32
  load_f32_s           the same from the F32 folder; this model is the one sampled and trained
  sample_tokens_per_s  --batch sequences from --prompt random tokens, --new-tokens each, decoded one
                       token at a time through a KV cache (temperature 0.8), after a warm-up
  train_tokens_per_s   whole steps (forward, cross-entropy, backward, clipping, AdamW) of
                       --train-batch x --train-seq random tokens, after one warm-up step
  peak_rss_mib         the process's peak resident set (VmHWM) over all of the above
Facts say which torch, how many threads and which BLAS ran, and the resident set before loading.

Only torch and the standard library, so that any `apt-get install python3-torch` can run it.
"""

import argparse
import gc
import json
import math
import os
import resource
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ left in bench/peer by the import below
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_engine import facts as engine_facts, make_optimizer, print_figures, train_step  # noqa: E402 (the same optimizer and step; torch version, threads, BLAS; the output format)

TEMPERATURE = 0.8
DTYPES = {"F32": (torch.float32, 4), "BF16": (torch.bfloat16, 2), "F16": (torch.float16, 2)}
META = torch.device("meta")  # modules are built without storage; load() gives them the file's tensors


# -----------------------------------------------------------------------------
# the model, after transformers' modeling_llama.py


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * weight."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.empty(dim, device=META))

    def forward(self, x):  # x (..., C)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def apply_rope(x, cos, sin):
    """"Rotate half": element i pairs with element i + HS/2. x (B, heads, t, HS); cos, sin (t, HS/2)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, NH, KVH, HS = cfg["dim"], cfg["heads"], cfg["kv_heads"], cfg["head_dim"]
        self.NH, self.KVH, self.HS = NH, KVH, HS
        self.q_proj = nn.Linear(C, NH * HS, bias=False, device=META)
        self.k_proj = nn.Linear(C, KVH * HS, bias=False, device=META)
        self.v_proj = nn.Linear(C, KVH * HS, bias=False, device=META)
        self.o_proj = nn.Linear(NH * HS, C, bias=False, device=META)

    def forward(self, x, cos, sin, mask, cache=None, pos=0):
        # x (B, t, C): t new tokens at positions pos..pos+t-1
        B, t, _ = x.shape
        NH, KVH, HS = self.NH, self.KVH, self.HS
        G = NH // KVH  # query heads per key/value head
        q = self.q_proj(x).view(B, t, NH, HS).transpose(1, 2)  # (B, NH, t, HS)
        k = self.k_proj(x).view(B, t, KVH, HS).transpose(1, 2)  # (B, KVH, t, HS)
        v = self.v_proj(x).view(B, t, KVH, HS).transpose(1, 2)  # (B, KVH, t, HS)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            # the KV cache (2, B, KVH, Tmax, HS): write this step's keys and values, attend over all pos+t
            cache[0, :, :, pos:pos + t] = k
            cache[1, :, :, pos:pos + t] = v
            k, v = cache[0, :, :, :pos + t], cache[1, :, :, :pos + t]  # (B, KVH, pos+t, HS)
        # query head h = kvh*G + g reads key/value head kvh = h // G, repeat_kv's order; the G query
        # heads of a group broadcast against their one key/value head instead of copying it G times
        q = q.reshape(B, KVH, G * t, HS)  # (B, KVH, G*t, HS): the group's heads' rows one after another
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HS))  # (B, KVH, G*t, pos+t)
        att = att.view(B, KVH, G, t, -1).masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = att.view(B, KVH, G * t, -1) @ v  # (B, KVH, G*t, HS)
        y = y.view(B, NH, t, HS).transpose(1, 2).reshape(B, t, NH * HS)  # heads side by side again
        return self.o_proj(y)


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg):
        super().__init__()
        C, H = cfg["dim"], cfg["ffn"]
        self.gate_proj = nn.Linear(C, H, bias=False, device=META)
        self.up_proj = nn.Linear(C, H, bias=False, device=META)
        self.down_proj = nn.Linear(H, C, bias=False, device=META)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg["dim"], cfg["eps"])
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg["dim"], cfg["eps"])
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, mask, cache=None, pos=0):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache, pos)
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(nn.Module):
    """LlamaModel: the parameter names under `model.`."""

    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab"], cfg["dim"], device=META)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg["layers"]))
        self.norm = RMSNorm(cfg["dim"], cfg["eps"])


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = Inner(cfg)
        if not cfg["tied"]:
            self.lm_head = nn.Linear(cfg["dim"], cfg["vocab"], bias=False, device=META)

    def make_tables(self, length):
        """cos and sin (length, HS/2) of position * theta^(-2i/HS), and the causal mask."""
        HS, theta = self.cfg["head_dim"], self.cfg["rope_theta"]
        inv_freq = theta ** (-torch.arange(0, HS, 2, dtype=torch.float64) / HS)
        angles = torch.outer(torch.arange(length, dtype=torch.float64), inv_freq)
        self.cos, self.sin = angles.cos().float(), angles.sin().float()
        self.causal = torch.ones(length, length, dtype=torch.bool).tril()

    def new_cache(self, B, Tmax):
        c = self.cfg
        return torch.zeros(c["layers"], 2, B, c["kv_heads"], Tmax, c["head_dim"])

    def forward(self, idx, cache=None, pos=0):
        # idx (B, t) token ids at positions pos..pos+t-1 -> logits (B, t, V)
        t = idx.shape[1]
        cos, sin = self.cos[pos:pos + t], self.sin[pos:pos + t]  # (t, HS/2)
        mask = self.causal[pos:pos + t, :pos + t]  # (t, pos+t)
        x = self.model.embed_tokens(idx)
        for l, block in enumerate(self.model.layers):
            x = block(x, cos, sin, mask, None if cache is None else cache[l], pos)
        x = self.model.norm(x)
        head = self.model.embed_tokens.weight if self.cfg["tied"] else self.lm_head.weight
        return F.linear(x, head)  # (B, t, V)


# -----------------------------------------------------------------------------
# the folder


def read_config(folder):
    """The fields of config.json the model uses; what it cannot compute exactly is refused."""
    path = os.path.join(folder, "config.json")
    with open(path) as file:
        cfg = json.load(file)
    if cfg.get("architectures") != ["LlamaForCausalLM"]:
        sys.exit(f"{path}: architectures {cfg.get('architectures')} is not [\"LlamaForCausalLM\"]")
    for field, supported in (("rope_scaling", None), ("attention_bias", False), ("mlp_bias", False), ("hidden_act", "silu")):
        if cfg.get(field, supported) != supported:
            sys.exit(f"{path}: {field} {cfg[field]!r} is not supported here")
    heads = cfg["num_attention_heads"]
    return {
        "vocab": cfg["vocab_size"],
        "layers": cfg["num_hidden_layers"],
        "dim": cfg["hidden_size"],
        "heads": heads,
        "kv_heads": cfg.get("num_key_value_heads") or heads,
        "head_dim": cfg.get("head_dim") or cfg["hidden_size"] // heads,
        "ffn": cfg["intermediate_size"],
        "context": cfg["max_position_embeddings"],
        "tied": cfg.get("tie_word_embeddings", False),
        "rope_theta": cfg.get("rope_theta", 10000.0),
        "eps": cfg.get("rms_norm_eps", 1e-6),
    }


def read_safetensors(path):
    """{name: tensor}, each a view of one buffer holding the file's whole data section."""
    with open(path, "rb") as file:
        (header_length,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(header_length))
        data = bytearray(os.path.getsize(path) - 8 - header_length)
        file.readinto(data)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in DTYPES:
            sys.exit(f"{path}: tensor {name} has dtype {info['dtype']}, not one of {sorted(DTYPES)}")
        dtype, size = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        tensors[name] = torch.frombuffer(data, dtype=dtype, count=(end - begin) // size, offset=begin).view(info["shape"])
    return tensors


def load(folder, context):
    """A model computing in f32 whose parameters are the folder's tensors: F32 ones used in place
    (views of the buffer read, as safetensors' mmap would give), BF16 and F16 ones widened.
    RoPE tables are made for `context` positions, the most the bench uses."""
    model = Llama(read_config(folder))  # on the meta device: nothing allocated, nothing initialised
    tensors = read_safetensors(os.path.join(folder, "model.safetensors"))
    expected = dict(model.named_parameters())
    if set(tensors) != set(expected):
        missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
        sys.exit(f"{folder}/model.safetensors: missing {missing[:3]}, unexpected {extra[:3]}")
    for name, tensor in tensors.items():
        if tensor.shape != expected[name].shape:
            sys.exit(f"{folder}/model.safetensors: {name} has shape {list(tensor.shape)}, config.json implies {list(expected[name].shape)}")
        *path, leaf = name.split(".")
        setattr(model.get_submodule(".".join(path)), leaf, nn.Parameter(tensor.float()))  # .float() of f32 is itself
    model.make_tables(context)
    return model


# -----------------------------------------------------------------------------
# the figures


@torch.no_grad()
def generate(model, prompts, new_tokens):
    """prompts (B, P) -> (B, new_tokens) sampled one at a time through the KV cache."""
    B, P = prompts.shape
    cache = model.new_cache(B, P + new_tokens)
    logits = model(prompts, cache=cache, pos=0)[:, -1]  # (B, V): the prompt in one prefill
    out = []
    for i in range(new_tokens):
        token = torch.multinomial((logits / TEMPERATURE).softmax(dim=-1), 1)  # (B, 1)
        out.append(token)
        if i + 1 < new_tokens:  # the last token needs no forward of its own
            logits = model(token, cache=cache, pos=P + i)[:, -1]
    return torch.cat(out, dim=1)


def peak_rss_mib():
    """The peak resident set of this process since it started this program: Linux's VmHWM. Not
    getrusage's ru_maxrss, which Linux carries over exec from the process forked, so that a child
    of a large parent (the bench's Node process) starts with the parent's size."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes there, KiB elsewhere


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bf16", required=True, help="folder whose model.safetensors is BF16")
    parser.add_argument("--f32", required=True, help="the same model's folder with F32 weights")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--batch", type=int, default=16, help="sequences sampled together")
    parser.add_argument("--prompt", type=int, default=16, help="random prompt tokens per sequence")
    parser.add_argument("--new-tokens", type=int, default=128, help="tokens sampled per sequence")
    parser.add_argument("--train-batch", type=int, default=4, help="sequences per training step")
    parser.add_argument("--train-seq", type=int, default=128, help="tokens per training sequence")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rss_before = peak_rss_mib()
    context = max(args.prompt + args.new_tokens, args.train_seq)

    start = time.perf_counter()
    model = load(args.bf16, context)
    load_bf16 = time.perf_counter() - start
    del model
    gc.collect()
    start = time.perf_counter()
    model = load(args.f32, context)
    load_f32 = time.perf_counter() - start
    cfg = model.cfg
    for name, value in (("prompt + new tokens", args.prompt + args.new_tokens), ("train sequence", args.train_seq)):
        if value > cfg["context"]:
            sys.exit(f"{name} {value} exceeds max_position_embeddings {cfg['context']}")

    prompts = lambda: torch.randint(0, cfg["vocab"], (args.batch, args.prompt))  # noqa: E731
    generate(model, prompts(), 2)  # warm-up
    start = time.perf_counter()
    tokens = generate(model, prompts(), args.new_tokens)
    sample = tokens.numel() / (time.perf_counter() - start)

    optimizer = make_optimizer(model)
    first_loss = train_step(model, optimizer, args.train_batch, args.train_seq, model.cfg["vocab"])  # warm-up: optimizer state
    start = time.perf_counter()
    for _ in range(args.steps):
        train_step(model, optimizer, args.train_batch, args.train_seq, model.cfg["vocab"])
    train = args.steps * args.train_batch * args.train_seq / (time.perf_counter() - start)

    figures = {
        "load_bf16_s": (load_bf16, "s"),
        "load_f32_s": (load_f32, "s"),
        "sample_tokens_per_s": (sample, "tokens/s"),
        "train_tokens_per_s": (train, "tokens/s"),
        "peak_rss_mib": (peak_rss_mib(), "MiB"),
    }
    about = engine_facts(first_loss)
    about["first_train_loss"] = f"{first_loss:.4f} (ln {cfg['vocab']} = {math.log(cfg['vocab']):.4f})"
    about["rss_before_load_mib"] = f"{rss_before:.0f}"
    about["parameters"] = str(sum(p.numel() for p in model.parameters()))
    print_figures(figures, about, args.json)


if __name__ == "__main__":
    main()
