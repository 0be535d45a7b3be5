#!/usr/bin/env python3
"""PyTorch peer of bench/engine.ts: the same Llama-style benchmark model, written by hand in torch,
timed in float32 on the CPU so that rpt's engine figures have a reference on the same machine.

    python3 bench/peer/torch_engine.py [--threads N] [--steps N] [--new-tokens N] [--json]

Figures (the names and format of bench/report.ts: `name: value unit` lines, or one JSON object
{name: {value, unit}} with --json, facts under "facts"):
  matmul_512cubed_gflops  a 512x512 @ 512x512 torch.mm, warmed up, then repeated for ~1 s
  train_tokens_per_s      whole steps (forward, cross-entropy, backward, clipping, AdamW) of 16 x 128
  sample_tokens_per_s     64 sequences, 8-token prompts, decoded one token at a time to position 128
Facts say which torch, how many threads and which BLAS (and OpenBLAS kernel) produced them.

Only torch and the standard library, so that any `apt-get install python3-torch` can run it.
"""

import argparse
import ctypes
import ctypes.util
import json
import math
import os
import re
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The benchmark model of bench/engine.ts.
V, L, C, NH, T, H = 512, 4, 128, 4, 128, 512  # vocab, layers, dim, heads, context, SwiGLU hidden
HS = C // NH  # head size, 32
ROPE_THETA, NORM_EPS = 10000.0, 1e-5
TRAIN_B = 16  # training batch: 16 x 128 tokens
SAMPLE_B, PROMPT = 64, 8  # sampling batch and prompt length
TEMPERATURE = 0.8


# -----------------------------------------------------------------------------
# the model


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * weight; a gain, no bias (Llama)."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):  # x (..., C)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_size, context, theta):
    """cos and sin (context, HS/2) of position * theta^(-2i/HS), shared by every head."""
    inv_freq = theta ** (-torch.arange(0, head_size, 2, dtype=torch.float64) / head_size)  # (HS/2,)
    angles = torch.outer(torch.arange(context, dtype=torch.float64), inv_freq)  # (T, HS/2)
    # computed in float64 like rpt's cpu backend, then stored as float32 like the activations
    return angles.cos().float(), angles.sin().float()


def apply_rope(x, cos, sin):
    """Hugging Face's "rotate half": element i pairs with element i + HS/2.
    x (B, NH, t, HS); cos, sin (t, HS/2) for the t positions of x."""
    x1, x2 = x.chunk(2, dim=-1)  # (B, NH, t, HS/2) each
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(C, C, bias=False)
        self.k_proj = nn.Linear(C, C, bias=False)
        self.v_proj = nn.Linear(C, C, bias=False)
        self.o_proj = nn.Linear(C, C, bias=False)

    def forward(self, x, cos, sin, mask, cache=None, pos=0):
        # x (B, t, C): t new tokens at positions pos..pos+t-1
        B, t, _ = x.shape
        q = self.q_proj(x).view(B, t, NH, HS).transpose(1, 2)  # (B, NH, t, HS)
        k = self.k_proj(x).view(B, t, NH, HS).transpose(1, 2)  # (B, NH, t, HS)
        v = self.v_proj(x).view(B, t, NH, HS).transpose(1, 2)  # (B, NH, t, HS)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            # the KV cache (2, B, NH, T, HS) holds every earlier position's keys and values;
            # write this step's and attend over all pos+t of them
            cache[0, :, :, pos:pos + t] = k
            cache[1, :, :, pos:pos + t] = v
            k, v = cache[0, :, :, :pos + t], cache[1, :, :, :pos + t]  # (B, NH, pos+t, HS)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HS))  # (B, NH, t, pos+t)
        att = att.masked_fill(~mask, float("-inf"))  # causal: query pos+i sees keys 0..pos+i
        att = att.softmax(dim=-1)
        y = att @ v  # (B, NH, t, HS)
        y = y.transpose(1, 2).reshape(B, t, C)  # heads side by side again
        return self.o_proj(y)


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self):
        super().__init__()
        self.gate_proj = nn.Linear(C, H, bias=False)
        self.up_proj = nn.Linear(C, H, bias=False)
        self.down_proj = nn.Linear(H, C, bias=False)

    def forward(self, x):  # x (B, t, C)
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))  # (B, t, H) inside


class Block(nn.Module):
    """Pre-norm: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self):
        super().__init__()
        self.input_layernorm = RMSNorm(C, NORM_EPS)
        self.self_attn = Attention()
        self.post_attention_layernorm = RMSNorm(C, NORM_EPS)
        self.mlp = MLP()

    def forward(self, x, cos, sin, mask, cache=None, pos=0):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache, pos)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(V, C)
        self.layers = nn.ModuleList(Block() for _ in range(L))
        self.norm = RMSNorm(C, NORM_EPS)
        self.lm_head = nn.Linear(C, V, bias=False)  # untied from embed_tokens
        cos, sin = rope_tables(HS, T, ROPE_THETA)
        self.register_buffer("cos", cos, persistent=False)  # (T, HS/2)
        self.register_buffer("sin", sin, persistent=False)  # (T, HS/2)
        self.register_buffer("causal", torch.ones(T, T, dtype=torch.bool).tril(), persistent=False)  # (T, T)
        # rpt's initialisation (src/model/params.ts): matrices N(0, 0.02), the projections that end
        # a residual branch scaled by 1/sqrt(2L), norm gains 1
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * L) if name.endswith(("o_proj.weight", "down_proj.weight")) else 0.02
                nn.init.normal_(p, std=std)

    def new_cache(self, B):
        return torch.zeros(L, 2, B, NH, T, HS)  # keys and values of every layer

    def forward(self, idx, cache=None, pos=0):
        # idx (B, t) token ids at positions pos..pos+t-1 -> logits (B, t, V)
        t = idx.shape[1]
        assert pos + t <= T, f"positions up to {pos + t} exceed the context {T}"
        cos, sin = self.cos[pos:pos + t], self.sin[pos:pos + t]  # (t, HS/2)
        mask = self.causal[pos:pos + t, :pos + t]  # (t, pos+t)
        x = self.embed_tokens(idx)  # (B, t, C)
        for l, block in enumerate(self.layers):
            x = block(x, cos, sin, mask, None if cache is None else cache[l], pos)
        return self.lm_head(self.norm(x))  # (B, t, V)


def make_optimizer(model):
    # AdamW as rpt's (src/model/optimizer.ts): betas 0.9/0.999, eps 1e-8, weight decay 0.01 on
    # matrices only, norm gains never decay
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)


def train_step(model, optimizer, B, T, V):
    """One whole step on B x T random tokens of a vocabulary of V; returns the loss (read back, as
    rpt reads its logprobs)."""
    ids = torch.randint(0, V, (B, T + 1))  # (B, T+1): inputs and their next tokens
    logits = model(ids[:, :-1])  # (B, T, V)
    loss = F.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1))  # mean over all B*T positions
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss.item()


@torch.no_grad()
def generate(model, prompts, new_tokens):
    """prompts (B, P) -> (B, new_tokens) sampled one at a time through the KV cache."""
    B, P = prompts.shape
    assert P + new_tokens <= T, f"{P} + {new_tokens} tokens exceed the context {T}"
    cache = model.new_cache(B)
    logits = model(prompts, cache=cache, pos=0)[:, -1]  # (B, V): the prompt in one prefill
    out = []
    for i in range(new_tokens):
        probs = (logits / TEMPERATURE).softmax(dim=-1)  # (B, V)
        token = torch.multinomial(probs, 1)  # (B, 1)
        out.append(token)
        if i + 1 < new_tokens:  # the last token needs no forward of its own
            logits = model(token, cache=cache, pos=P + i)[:, -1]  # (B, V)
    return torch.cat(out, dim=1)


# -----------------------------------------------------------------------------
# the figures


def matmul_gflops(seconds=1.0):
    """GFLOP/s of a 512x512 @ 512x512 product. The right operand is used transposed, (out, in)
    as nn.Linear stores its weight and as rpt's matmulForward computes out = inp @ weight^T."""
    n = 512
    a, w = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    for _ in range(10):  # warm-up: thread pools, page faults
        torch.mm(a, w.t(), out=out)
    repeats, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, w.t(), out=out)
        repeats += 1
    return repeats * 2 * n ** 3 / (time.perf_counter() - start) / 1e9


def training_speed(steps):
    """Tokens/s over `steps` timed steps after one warm-up step; also the first step's loss,
    which for a fresh model on random tokens should sit near ln(V) = 6.24."""
    torch.manual_seed(1)
    model = Llama()
    optimizer = make_optimizer(model)
    first_loss = train_step(model, optimizer, TRAIN_B, T, V)  # warm-up: allocations, optimizer state
    start = time.perf_counter()
    for _ in range(steps):
        train_step(model, optimizer, TRAIN_B, T, V)
    return steps * TRAIN_B * T / (time.perf_counter() - start), first_loss


def sampling_speed(new_tokens):
    torch.manual_seed(2)
    model = Llama().eval()
    prompts = lambda: torch.randint(0, V, (SAMPLE_B, PROMPT))  # noqa: E731 (B, P)
    generate(model, prompts(), 2)  # warm-up
    start = time.perf_counter()
    tokens = generate(model, prompts(), new_tokens)
    return tokens.numel() / (time.perf_counter() - start)


# -----------------------------------------------------------------------------
# the facts


def openblas():
    """The OpenBLAS torch computes with: preferably the very library already loaded into this
    process (torch links the system BLAS), else whatever the loader finds by name."""
    candidates = []
    try:
        with open("/proc/self/maps") as maps:  # Linux: the libraries mapped right now
            paths = {line.split()[-1] for line in maps if ".so" in line}
        candidates += sorted(path for path in paths if "openblas" in os.path.basename(path))
    except OSError:
        pass
    candidates += [ctypes.util.find_library("openblas"), "libopenblas.so.0", "libblas.so.3"]
    for name in filter(None, candidates):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        if hasattr(lib, "openblas_get_corename"):
            return name, lib
    return None, None


def facts(first_loss):
    config = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=([^,\s]+)", config)
    out = {
        "torch_version": torch.__version__,
        "threads": str(torch.get_num_threads()),
        "blas": blas.group(1) if blas else "unknown",
        "mkl": str(torch.backends.mkl.is_available()),
        "first_train_loss": f"{first_loss:.4f} (ln {V} = {math.log(V):.4f})",
    }
    path, lib = openblas()
    if lib is None:
        out["openblas"] = "not loaded"
    else:
        out["openblas"] = path
        for symbol in ("openblas_get_corename", "openblas_get_config"):
            if hasattr(lib, symbol):
                function = getattr(lib, symbol)
                function.restype = ctypes.c_char_p
                out[symbol[len("openblas_get_"):]] = function().decode()
        if hasattr(lib, "openblas_get_num_threads"):
            out["openblas_threads"] = str(lib.openblas_get_num_threads())
    for variable in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        out[variable] = os.environ.get(variable, "unset")
    return out


def print_figures(figures, about, as_json):
    """figures {name: (value, unit)} and facts as bench/report.ts prints them: lines, or one JSON object."""
    if as_json:
        result = {name: {"value": value, "unit": unit} for name, (value, unit) in figures.items()}
        result["facts"] = about
        print(json.dumps(result, indent=2))
        return
    for key, value in about.items():
        print(f"# {key}: {value}")
    for name, (value, unit) in figures.items():
        rounded = float(f"{value:.4g}")  # 4 significant digits, as bench/report.ts prints
        print(f"{name}: {int(rounded) if rounded.is_integer() else rounded} {unit}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps")
    parser.add_argument("--new-tokens", type=int, default=T - PROMPT, help="tokens sampled per sequence")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    train, first_loss = training_speed(args.steps)
    figures = {
        "matmul_512cubed_gflops": (matmul_gflops(), "GFLOP/s"),
        "train_tokens_per_s": (train, "tokens/s"),
        "sample_tokens_per_s": (sampling_speed(args.new_tokens), "tokens/s"),
    }
    print_figures(figures, facts(first_loss), args.json)


if __name__ == "__main__":
    main()
