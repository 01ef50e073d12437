"""A PyTorch module of the Flowformer model family, loading `flowformer export` files.

    from flowformer_torch import FlowformerTorch
    model = FlowformerTorch.from_safetensors("model.safetensors")      # eval mode, float32
    logits = model(tokens)            # lm: [n, L] int64 -> [n, L, vocab]; sequence: -> [n, classes]
    logits = model(pixels)            # image: [n, H, W, C] float32, already normalised -> [n, classes]

The same layers and equations as the Swift model (docs/FORMATS.md "Model", shared/spec/flow-attention.md):
pre-LayerNorm blocks (eps 1e-5), exact GELU, Flow-Attention (causal for lm), softmax attention
or linear attention (elu + 1). Parameter names are the project's, which are PyTorch state_dict
names, so `load_state_dict` takes the exported tensors unchanged. Inference only (no dropout).
The layers (`Attention`, `FeedForward`, `Block`) are also those of jobs/bench/torch_bench.py.
"""
import functools
import json
import math

import torch
import torch.nn.functional as F
from torch import nn

FLOW_EPS = 1e-6     # Flow-Attention's epsilon
LINEAR_EPS = 1e-6   # linear attention's normaliser epsilon


def flow_attention(q, k, v, causal):
    """Flow-Attention on [n, H, L, d_h] queries, keys, values -> [n, H, L, d_h]."""
    eps = FLOW_EPS
    Q, K = torch.sigmoid(q), torch.sigmoid(k)
    if not causal:
        L, S = Q.shape[2], K.shape[2]
        incoming = ((Q + eps) * (K.sum(2, keepdim=True) + eps)).sum(-1)           # I_i   [n, H, L]
        outgoing = ((K + eps) * (Q.sum(2, keepdim=True) + eps)).sum(-1)           # O_j   [n, H, S]
        a, b = 1.0 / incoming, 1.0 / outgoing
        conserved_sink = ((Q + eps) * ((b[..., None] * K).sum(2, keepdim=True) + eps)).sum(-1)
        conserved_source = ((K + eps) * ((a[..., None] * Q).sum(2, keepdim=True) + eps)).sum(-1)
        conserved_source = conserved_source.clamp(-1.0, 1.0)
        allocation = torch.sigmoid(conserved_sink * (L / S))
        competition = torch.softmax(conserved_source, dim=-1) * S
        kv = K.transpose(-2, -1) @ (competition[..., None] * v)                   # [n, H, d_h, d_h]
        return (allocation * a)[..., None] * (Q @ kv)
    L = Q.shape[2]
    n = torch.arange(1, L + 1, dtype=Q.dtype, device=Q.device)                   # 1-based positions
    incoming = ((Q + eps) * (K.cumsum(2) + eps)).sum(-1)
    outgoing = ((K + eps) * (Q.cumsum(2) + eps)).sum(-1)
    a, b = n / incoming, n / outgoing
    conserved_sink = ((Q + eps) * ((b[..., None] * K).cumsum(2) + eps)).sum(-1) / n
    conserved_source = ((K + eps) * ((a[..., None] * Q).cumsum(2) + eps)).sum(-1) / n
    conserved_source = conserved_source.clamp(-1.0, 1.0)
    allocation = torch.sigmoid(conserved_sink)
    e = torch.exp(conserved_source)
    competition = n * e / e.cumsum(-1)
    mask = torch.ones(L, L, dtype=torch.bool, device=Q.device).tril()
    scores = (Q @ K.transpose(-2, -1)).masked_fill(~mask, 0.0)                  # Q_i . K_j, j <= i
    return (allocation / incoming)[..., None] * (scores @ (competition[..., None] * v))


def softmax_attention(q, k, v, causal):
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def linear_attention(q, k, v, causal):
    fq, fk = F.elu(q) + 1.0, F.elu(k) + 1.0
    if not causal:
        kv = fk.transpose(-2, -1) @ v
        z = 1.0 / ((fq * fk.sum(2, keepdim=True)).sum(-1) + LINEAR_EPS)
        return z[..., None] * (fq @ kv)
    L = q.shape[2]
    mask = torch.ones(L, L, dtype=torch.bool, device=q.device).tril()
    scores = (fq @ fk.transpose(-2, -1)).masked_fill(~mask, 0.0)
    z = 1.0 / ((fq * fk.cumsum(2)).sum(-1) + LINEAR_EPS)
    return z[..., None] * (scores @ v)


CORES = {"flow": flow_attention, "softmax": softmax_attention, "linear": linear_attention}


def attention_core(kind, causal):
    """The core of attention `kind` ("flow", "softmax", "linear") as a function (q, k, v) -> y."""
    return functools.partial(CORES[kind], causal=causal)


class Attention(nn.Module):
    """Multi-head attention around `core`, a function of [n, H, L, d_h] queries, keys and values
    -> [n, H, L, d_h] (`attention_core`; jobs/bench/torch_bench.py passes its own flow cores)."""

    def __init__(self, d_model, heads, core):
        super().__init__()
        self.heads, self.core = heads, core
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x):
        n, L, D = x.shape
        split = lambda t: t.view(n, L, self.heads, D // self.heads).transpose(1, 2)   # head h: columns h*d_h...
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        y = self.core(q, k, v)
        return self.out(y.transpose(1, 2).reshape(n, L, D))


class FeedForward(nn.Module):
    def __init__(self, d_model, ff):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d_model, ff), nn.Linear(ff, d_model)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-LayerNorm Transformer block: x + attn(norm1(x)), then + ffn(norm2(x))."""

    def __init__(self, d_model, heads, ff, core):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model, eps=1e-5)
        self.attn = Attention(d_model, heads, core)
        self.norm2 = nn.LayerNorm(d_model, eps=1e-5)
        self.ffn = FeedForward(d_model, ff)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class FlowformerTorch(nn.Module):
    """The model of `config` (the `model:` keys of a run, as in the export's metadata)."""

    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        c = self.config
        self.kind = c["kind"]
        d = c["d_model"]
        if self.kind == "image":
            self.patch = c["patch"]
            tokens = (c["image_size"] // self.patch) ** 2
            self.patch_embed = nn.Linear(c["channels"] * self.patch * self.patch, d)
        else:
            tokens = c["seq_len"]
            self.embed = nn.Embedding(c["vocab_size"], d)
        self.pos_embed = nn.Parameter(torch.zeros(tokens, d))
        core = attention_core(c["attention"], causal=self.kind == "lm")
        self.blocks = nn.ModuleList(Block(d, c["heads"], c["ff"], core) for _ in range(c["layers"]))
        self.norm = nn.LayerNorm(d, eps=1e-5)
        outputs = c["vocab_size"] if self.kind == "lm" else c["num_classes"]
        self.head = nn.Linear(d, outputs, bias=self.kind != "lm")

    @classmethod
    def from_safetensors(cls, path):
        from safetensors import safe_open
        with safe_open(path, framework="pt") as f:
            config = json.loads(f.metadata()["flowformer.config"])
            tensors = {name: f.get_tensor(name) for name in f.keys()}
        model = cls(config)
        state = model.state_dict()
        for name, value in tensors.items():
            tensors[name] = value.reshape(state[name].shape)
        model.load_state_dict(tensors, strict=True)
        return model.eval()

    def forward(self, x):
        if self.kind == "image":
            # [n, H, W, C] -> [n, C, H, W] -> patches [n, P, C*p*p], features in (channel, row, column) order
            patches = F.unfold(x.permute(0, 3, 1, 2), kernel_size=self.patch, stride=self.patch).transpose(1, 2)
            h = self.patch_embed(patches)
        else:
            h = self.embed(x)
        h = h + self.pos_embed
        for block in self.blocks:
            h = block(h)
        h = self.norm(h)
        if self.kind != "lm":
            h = h.mean(1)
        return self.head(h)
