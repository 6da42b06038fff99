#!/usr/bin/env python3
"""Regenerate the tiny-model fixtures of tests/data/fixtures/<family>/.

For each family (llama, qwen2, gemma3, phi3) this writes into OUT/<family>/:
  model/                  config.json, model.safetensors, generation_config.json
  peft_adapter/           adapter_config.json, adapter_model.safetensors
  reference.safetensors   every reference tensor listed in tests/data/fixtures/README.md
  meta.json               the numeric parts of the vendored meta.json (versions, configs,
                          optimizer numbers, generation, observed tolerances, verification)

following the recipe documented in tests/data/fixtures/README.md and <family>/meta.json:
  torch.manual_seed(0); AutoModelForCausalLM.from_config(config)            (weights)
  torch.Generator().manual_seed(3): RMSNorm weights += 0.1*randn,
                                    then qwen2 q/k/v biases += 0.05*randn   (perturbation)
  save_pretrained + reload; every reference is computed from the reloaded model
  torch.manual_seed(1); torch.randint(4, 320, (2, 24))                      (inputs)
  torch.manual_seed(0); get_peft_model(LoRA r=4, alpha=8)                   (lora_A)
  torch.manual_seed(2); each lora_B in named_parameters() order = randn*0.02
  clip_grad_norm_(1.0) + AdamW(lr=1e-3), two steps; true-float64 references;
  greedy generation of 8 tokens from input_ids[0, :6].

With --weights-from DIR the model/ and peft_adapter/ are copied from DIR/<family>/ (e.g. the
vendored tests/data/fixtures) instead of being regenerated from seeds, so that only the reference
computations are exercised.

Needs the pinned environment of scripts/refs/setup-venv.sh (torch 2.15.0, transformers 5.23.0,
peft 0.21.2, safetensors 0.8.0). CPU only, one thread, deterministic algorithms.

Usage: make_fixtures.py OUT_DIR [--families llama,qwen2,gemma3,phi3] [--weights-from DIR]

The tokenizer (tests/data/fixtures/tokenizer) is not regenerated: its ~2 KB training text is not
available. check_fixtures.py verifies its reference encodings instead.
"""
import argparse
import contextlib
import copy
import importlib
import json
import math
import os
import platform
import shutil
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import warnings  # noqa: E402
import transformers  # noqa: E402
import peft  # noqa: E402
import safetensors  # noqa: E402
import tokenizers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoModelForCausalLM, GenerationConfig  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402

FAMILIES = ["llama", "qwen2", "gemma3", "phi3"]
VOCAB = 320
B, T = 2, 24
LABEL_MASK = [10, 14]
COMMON = dict(
    vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=256,
    rms_norm_eps=1e-6, pad_token_id=0, bos_token_id=1, eos_token_id=2,
)
CLASS_NAMES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM",
               "gemma3": "Gemma3ForCausalLM", "phi3": "Phi3ForCausalLM"}
TARGETS = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "gemma3": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
}
MODELING = {
    "llama": "transformers.models.llama.modeling_llama",
    "qwen2": "transformers.models.qwen2.modeling_qwen2",
    "gemma3": "transformers.models.gemma3.modeling_gemma3",
    "phi3": "transformers.models.phi3.modeling_phi3",
}


def make_config(family):
    if family == "llama":
        from transformers import LlamaConfig
        return LlamaConfig(**COMMON, hidden_act="silu", tie_word_embeddings=False,
                           rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
    if family == "qwen2":
        from transformers import Qwen2Config
        return Qwen2Config(**COMMON, hidden_act="silu", tie_word_embeddings=False,
                           rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
    if family == "gemma3":
        from transformers import Gemma3TextConfig
        return Gemma3TextConfig(
            **COMMON, hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True,
            query_pre_attn_scalar=16, sliding_window=8,
            layer_types=["sliding_attention", "full_attention"],
            rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                             "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
            final_logit_softcapping=None, attn_logit_softcapping=None)
    if family == "phi3":
        from transformers import Phi3Config
        return Phi3Config(**COMMON, hidden_act="silu", tie_word_embeddings=False,
                          rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                           "partial_rotary_factor": 1.0})
    raise ValueError(family)


def is_rmsnorm(module):
    return type(module).__name__.endswith("RMSNorm")


# ---------------------------------------------------------------------------------------------
# model + adapter generation from seeds

def generate_model(family, model_dir):
    config = make_config(family)
    config.dtype = torch.float32
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager", dtype=torch.float32)
    assert type(model).__name__ == CLASS_NAMES[family], type(model).__name__
    g = torch.Generator().manual_seed(3)
    perturbed = []
    with torch.no_grad():
        for mname, module in model.named_modules():
            if is_rmsnorm(module):
                module.weight += 0.1 * torch.randn(module.weight.shape, generator=g)
                perturbed.append(mname + ".weight")
        if family == "qwen2":
            for name, p in model.named_parameters():
                if name.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias")):
                    p += 0.05 * torch.randn(p.shape, generator=g)
                    perturbed.append(name)
    model.save_pretrained(model_dir, safe_serialization=True)
    return perturbed


def load_model(model_dir):
    m = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="eager", dtype=torch.float32)
    m.eval()
    return m


def lora_config(family):
    return LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, lora_dropout=0.0, bias="none",
                      target_modules=TARGETS[family], init_lora_weights=True)


def generate_adapter(family, model_dir, adapter_dir):
    base = load_model(model_dir)
    torch.manual_seed(0)
    pm = get_peft_model(base, lora_config(family))
    torch.manual_seed(2)
    with torch.no_grad():
        for name, p in pm.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape) * 0.02)
    pm.save_pretrained(adapter_dir)
    cfg_path = os.path.join(adapter_dir, "adapter_config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["base_model_name_or_path"] = "../model"
    with open(cfg_path, "w") as f:  # PEFT's own layout: sorted keys, indent 2, no final newline
        json.dump(cfg, f, indent=2, sort_keys=True)
    readme = os.path.join(adapter_dir, "README.md")
    if os.path.exists(readme):
        os.remove(readme)


def load_lora(model_dir, adapter_dir, trainable=True):
    base = load_model(model_dir)
    pm = PeftModel.from_pretrained(base, adapter_dir, is_trainable=trainable)
    pm.eval()  # no dropout anyway; eval keeps generate() and forward identical
    return pm


# ---------------------------------------------------------------------------------------------
# "true float64": RMSNorm, RoPE cos/sin, eager softmax and the loss all kept in float64

def _rmsnorm_fwd(self, x):
    eps = getattr(self, "variance_epsilon", getattr(self, "eps", 1e-6))
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return self.weight * y


def _gemma_rmsnorm_fwd(self, x):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
    return y * (1.0 + self.weight)


def _inv_freq64(config, theta):
    dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))


def _rope_fwd(self, x, position_ids, layer_type=None):
    rp = self.config.rope_parameters
    theta = rp[layer_type]["rope_theta"] if layer_type is not None else rp["rope_theta"]
    inv = _inv_freq64(self.config, theta)
    freqs = position_ids[..., None].to(torch.float64) * inv
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


def _make_eager64(mod):
    repeat_kv = mod.repeat_kv

    def eager(module, query, key, value, attention_mask, scaling=None, dropout=0.0, softcap=None, **kw):
        if scaling is None:
            scaling = module.head_dim ** -0.5
        k = repeat_kv(key, module.num_key_value_groups)
        v = repeat_kv(value, module.num_key_value_groups)
        w = torch.matmul(query, k.transpose(2, 3)) * scaling
        if softcap is not None:
            w = torch.tanh(w / softcap) * softcap
        if attention_mask is not None:
            w = w + attention_mask
        w = torch.softmax(w, dim=-1)  # stays in the input dtype
        out = torch.matmul(w, v).transpose(1, 2).contiguous()
        return out, w
    return eager


@contextlib.contextmanager
def true_fp64():
    saved = []
    try:
        for fam, modname in MODELING.items():
            mod = importlib.import_module(modname)
            saved.append((mod, "eager_attention_forward", mod.eager_attention_forward))
            mod.eager_attention_forward = _make_eager64(mod)
            for name in dir(mod):
                obj = getattr(mod, name)
                if not isinstance(obj, type):
                    continue
                if name.endswith("RMSNorm") and obj.__module__ == mod.__name__:
                    saved.append((obj, "forward", obj.__dict__["forward"]))
                    obj.forward = _gemma_rmsnorm_fwd if fam == "gemma3" else _rmsnorm_fwd
                if name.endswith("RotaryEmbedding") and obj.__module__ == mod.__name__:
                    saved.append((obj, "forward", obj.__dict__["forward"]))
                    obj.forward = _rope_fwd
        yield
    finally:
        for owner, attr, val in reversed(saved):
            setattr(owner, attr, val)


def causal_lm_loss(logits, labels):
    """transformers' ForCausalLMLoss, in the logits' own dtype: mean over non-ignored targets."""
    V = logits.shape[-1]
    shift = F.pad(labels, (0, 1), value=-100)[..., 1:]
    return F.cross_entropy(logits.reshape(-1, V), shift.reshape(-1), ignore_index=-100, reduction="mean")


# ---------------------------------------------------------------------------------------------
# hooks

def decoder(model):
    """The inner *Model (embed_tokens, layers, norm) of a CausalLM or a PeftModel around it."""
    m = model
    if isinstance(m, PeftModel):
        m = m.base_model.model
    return m.model


class Capture:
    """Records embed output, each layer's output and the final norm's output; optionally makes the
    embedding output a leaf that requires grad (for embed_grad) and retains grads of the rest."""

    def __init__(self, model, grads=False):
        self.acts, self.handles, self.grads = {}, [], grads
        inner = decoder(model)
        self.handles.append(inner.embed_tokens.register_forward_hook(self._embed))
        for i, layer in enumerate(inner.layers):
            self.handles.append(layer.register_forward_hook(self._mk(f"layer{i}")))
        self.handles.append(inner.norm.register_forward_hook(self._mk("final_norm")))

    def _embed(self, module, inp, out):
        if self.grads:
            out = out.detach().requires_grad_(True)
        self.acts["embed"] = out
        return out

    def _mk(self, key):
        def hook(module, inp, out):
            t = out[0] if isinstance(out, tuple) else out
            if self.grads and t.requires_grad:
                t.retain_grad()
            self.acts[key] = t
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


HKEYS = ["embed", "layer0", "layer1", "final_norm"]


def peft_key(name):
    # in-memory "....lora_A.default.weight" -> saved "....lora_A.weight"
    return name.replace(".default.", ".")


def lora_params(pm):
    return [(peft_key(n), p) for n, p in pm.named_parameters() if p.requires_grad]


def f32(x):
    return x.detach().to(torch.float32).contiguous().clone()


def max_abs(a, b):
    return float((a.detach().double() - b.detach().double()).abs().max())


# ---------------------------------------------------------------------------------------------
# references

def top2_margin(last_logits):
    top2 = last_logits[0].topk(2).values
    return float(top2[0] - top2[1])  # float32 subtraction, as recorded in the vendored meta.json


def greedy_no_cache(model, prompt, n):
    """Argmax loop without KV cache: full forward each step. Returns ids and top1-top2 margins."""
    ids, margins = prompt.clone(), []
    with torch.no_grad():
        for _ in range(n):
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).logits
            margins.append(top2_margin(logits[:, -1]))
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return ids, margins


def generate(model, prompt):
    """generate(do_sample=False, num_beams=1, max_new_tokens=8, use_cache=True, eos_token_id=None)."""
    gc = GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=8, use_cache=True,
                          eos_token_id=None, pad_token_id=0, bos_token_id=1)
    with torch.no_grad():
        out = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt),
                             generation_config=gc, return_dict_in_generate=True, output_logits=True)
    return out.sequences, [top2_margin(lg) for lg in out.logits]


def compute_references(family, model_dir, adapter_dir):
    ref, meta = {}, {}
    torch.manual_seed(1)
    input_ids = torch.randint(4, VOCAB, (B, T))
    attention_mask = torch.ones_like(input_ids)
    labels = input_ids.clone()
    labels[0, :LABEL_MASK[0]] = -100
    labels[1, :LABEL_MASK[1]] = -100
    ref.update(input_ids=input_ids, attention_mask=attention_mask, labels=labels)

    # ---- Reference A: base model
    base = load_model(model_dir)
    cap = Capture(base)
    with torch.no_grad():
        out = base(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    cap.remove()
    ref["logits"] = f32(out.logits)
    ref["loss"] = f32(out.loss).reshape(1)
    for k in HKEYS:
        ref[f"hidden.{k}"] = f32(cap.acts[k])

    sdpa = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="sdpa", dtype=torch.float32)
    with torch.no_grad():
        sdpa_logits = sdpa(input_ids=input_ids, attention_mask=attention_mask).logits
    del sdpa

    # HF's plain .double() (RMSNorm/RoPE/softmax/loss still partly float32)
    hfd = copy.deepcopy(base).double()
    with torch.no_grad():
        hfd_logits = hfd(input_ids=input_ids, attention_mask=attention_mask).logits
    del hfd

    # true float64
    b64 = copy.deepcopy(base).double()
    with true_fp64():
        cap64 = Capture(b64)
        with torch.no_grad():
            logits64 = b64(input_ids=input_ids, attention_mask=attention_mask).logits
        cap64.remove()
    loss64 = causal_lm_loss(logits64, labels)
    ref["logits_fp64"] = logits64.detach().clone()
    ref["loss_fp64"] = loss64.detach().reshape(1).clone()
    meta["base_forward"] = {
        "logits_max_abs_diff_fp32_vs_true_fp64": max_abs(ref["logits"], logits64),
        "logits_max_abs_diff_fp32_vs_hf_double": max_abs(ref["logits"], hfd_logits),
        "logits_max_abs_value": float(logits64.abs().max()),
        "loss_abs_diff_fp32_vs_true_fp64": max_abs(ref["loss"], loss64),
        "hidden_max_abs_diff_fp32_vs_true_fp64": {k: max_abs(ref[f"hidden.{k}"], cap64.acts[k]) for k in HKEYS},
        "loss_fp32": float(ref["loss"]),
        "loss_fp64": float(loss64),
    }
    del b64

    # ---- Reference B: LoRA model, forward + backward
    pm = load_lora(model_dir, adapter_dir)
    params = lora_params(pm)
    cap = Capture(pm, grads=True)
    out = pm(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    out.loss.backward()
    cap.remove()
    ref["lora_logits"] = f32(out.logits)
    ref["lora_loss"] = f32(out.loss).reshape(1)
    grads = {k: f32(p.grad) for k, p in params}
    for k, g in grads.items():
        ref[f"grad.{k}"] = g
    embed_grad = f32(cap.acts["embed"].grad)
    ref["embed_grad"] = embed_grad
    if family == "gemma3":
        scale = float(decoder(pm).embed_tokens.embed_scale)
        ref["embed_lookup_grad"] = embed_grad * scale
    for k in HKEYS:
        ref[f"lora_hidden.{k}"] = f32(cap.acts[k])
        ref[f"lora_hidden_grad.{k}"] = f32(cap.acts[k].grad)

    # LoRA, true float64
    p64 = copy.deepcopy(pm).double()
    for _, p in p64.named_parameters():
        p.grad = None
    with true_fp64():
        cap64 = Capture(p64, grads=True)
        logits64 = p64(input_ids=input_ids, attention_mask=attention_mask).logits
        loss64 = causal_lm_loss(logits64, labels)
        loss64.backward()
        cap64.remove()
    grads64 = {k: p.grad.detach().clone() for k, p in lora_params(p64)}
    ref["lora_loss_fp64"] = loss64.detach().reshape(1).clone()
    for k, g in grads64.items():
        ref[f"grad_fp64.{k}"] = g
    rel = max(float((grads[k].double() - grads64[k]).abs().max() / grads64[k].abs().max()) for k in grads)
    meta["lora_forward_backward"] = {
        "lora_logits_max_abs_diff_fp32_vs_true_fp64": max_abs(ref["lora_logits"], logits64),
        "lora_loss_abs_diff_fp32_vs_true_fp64": max_abs(ref["lora_loss"], loss64),
        "lora_loss_fp64": float(loss64.detach()),
        "grad_max_abs_diff_fp32_vs_true_fp64": max(max_abs(grads[k], grads64[k]) for k in grads),
        "grad_max_rel_diff_fp32_vs_true_fp64 (per tensor: max|d| / max|g64|, worst tensor)": rel,
        "grad_max_abs_value": max(float(g.abs().max()) for g in grads.values()),
        "embed_grad_max_abs_diff_fp32_vs_true_fp64": max_abs(embed_grad, cap64.acts["embed"].grad),
        "embed_grad_max_abs_value": float(embed_grad.abs().max()),
    }
    # the float32 gradients' norm accumulated in float64 (a check of clip_grad_norm_'s float32 result)
    grad_norm64 = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads.values()))
    del p64

    # ---- optimizer: clip + AdamW, two steps
    plist = [p for _, p in params]
    opt = torch.optim.AdamW(plist, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    before = {k: p.detach().clone() for k, p in params}
    gn = torch.nn.utils.clip_grad_norm_(plist, max_norm=1.0)
    ref["grad_norm"] = f32(gn).reshape(1)
    clip_coef = min(1.0, 1.0 / (float(gn) + 1e-6))
    opt.step()
    formula_diff = 0.0
    for k, p in params:
        st = opt.state[p]
        ref[f"adamw.{k}"] = f32(p)
        ref[f"adamw.exp_avg.{k}"] = f32(st["exp_avg"])
        ref[f"adamw.exp_avg_sq.{k}"] = f32(st["exp_avg_sq"])
        g = grads[k].double() * clip_coef
        m, v = 0.1 * g, 0.001 * g * g
        expect = before[k].double() - 1e-3 * (m / 0.1) / ((v / 0.001).sqrt() + 1e-8)
        formula_diff = max(formula_diff, max_abs(p, expect))
    opt.zero_grad()
    out2 = pm(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    ref["lora_loss_after_step1"] = f32(out2.loss).reshape(1)
    out2.loss.backward()
    gn2 = torch.nn.utils.clip_grad_norm_(plist, max_norm=1.0)
    ref["grad_norm_step2"] = f32(gn2).reshape(1)
    opt.step()
    for k, p in params:
        ref[f"adamw_step2.{k}"] = f32(p)
    meta["optimizer"] = {
        "grad_norm_pre_clip": float(gn),
        "grad_norm_pre_clip_fp64_check": grad_norm64,
        "clip_coef_applied": clip_coef,
        "grad_norm_pre_clip_step2": float(gn2),
        "lora_loss_before": float(ref["lora_loss"]),
        "lora_loss_after_step1": float(ref["lora_loss_after_step1"]),
    }
    del pm, opt

    # ---- Reference C: greedy generation
    prompt = input_ids[:1, :6].clone()
    ref["gen_prompt"] = prompt
    gen_base, m_base = generate(base, prompt)
    pm = load_lora(model_dir, adapter_dir, trainable=False)
    gen_lora, m_lora = generate(pm, prompt)
    ref["gen_base"] = gen_base.clone()
    ref["gen_lora"] = gen_lora.clone()
    loop_base, lm_base = greedy_no_cache(base, prompt, 8)
    loop_lora, lm_lora = greedy_no_cache(pm, prompt, 8)
    meta["generation"] = {
        "prompt": prompt[0].tolist(),
        "base_new_tokens": gen_base[0, 6:].tolist(),
        "lora_new_tokens": gen_lora[0, 6:].tolist(),
        "base_matches_no_cache_loop": bool(torch.equal(loop_base, gen_base)),
        "lora_matches_no_cache_loop": bool(torch.equal(loop_lora, gen_lora)),
        # margins of the no-cache loop's logits (those of generate() with the KV cache differ by ~1e-7)
        "base_top1_minus_top2_logit_margin_per_step": lm_base,
        "lora_top1_minus_top2_logit_margin_per_step": lm_lora,
        "base_top1_minus_top2_logit_margin_per_step_kv_cache": m_base,
        "lora_top1_minus_top2_logit_margin_per_step_kv_cache": m_lora,
    }
    meta["verification"] = {
        "sdpa_vs_eager_logits_max_abs_diff": max_abs(ref["logits"], sdpa_logits),
        "adamw_step1_formula_from_grads_max_abs_diff": formula_diff,
    }
    cfg = pm.peft_config["default"].to_dict()  # the in-memory (training) config, as in the vendored meta
    meta["peft_config"] = json.loads(json.dumps(cfg, default=lambda o: sorted(o) if isinstance(o, set) else str(o)))
    meta["peft_config"]["inference_mode"] = False
    return ref, meta, params_count(grads)


def params_count(grads):
    return {"num_lora_tensors": len(grads), "num_lora_parameters": sum(g.numel() for g in grads.values())}


def versions():
    return {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
            "safetensors": safetensors.__version__, "tokenizers": tokenizers.__version__,
            "python": platform.python_version()}


def build_family(family, out_dir, weights_from=None):
    fam_dir = os.path.join(out_dir, family)
    model_dir = os.path.join(fam_dir, "model")
    adapter_dir = os.path.join(fam_dir, "peft_adapter")
    if os.path.exists(fam_dir):
        shutil.rmtree(fam_dir)
    os.makedirs(fam_dir)
    perturbed = None
    if weights_from:
        src = os.path.join(weights_from, family)
        shutil.copytree(os.path.join(src, "model"), model_dir)
        shutil.copytree(os.path.join(src, "peft_adapter"), adapter_dir)
        for d in (model_dir, adapter_dir):  # vendored files are read-only
            os.chmod(d, 0o755)
            for f in os.listdir(d):
                os.chmod(os.path.join(d, f), 0o644)
    else:
        perturbed = generate_model(family, model_dir)
        generate_adapter(family, model_dir, adapter_dir)

    ref, numbers, counts = compute_references(family, model_dir, adapter_dir)
    save_file(ref, os.path.join(fam_dir, "reference.safetensors"), metadata={"family": family})

    with open(os.path.join(model_dir, "config.json")) as f:
        config_json = json.load(f)
    meta = {
        "family": family,
        "model_class": CLASS_NAMES[family],
        "versions": versions(),
        "config_json": config_json,
        "init": {
            "weights": "torch.manual_seed(0); AutoModelForCausalLM.from_config(config)"
                       if not weights_from else f"copied from {weights_from}",
            "perturbed_parameters": perturbed,
        },
        "inputs": {"input_ids_seed": 1, "input_ids_range": [4, VOCAB], "shape": [B, T],
                   "labels_masked_prefix": LABEL_MASK},
        "lora": {"peft_config": numbers["peft_config"], "r": 4, "lora_alpha": 8, "scaling": 2.0, **counts},
        "optimizer": numbers["optimizer"],
        "generation": numbers["generation"],
        "tolerances_observed": {"base_forward": numbers["base_forward"],
                                "lora_forward_backward": numbers["lora_forward_backward"]},
        "verification": numbers["verification"],
        "regenerated_by": "scripts/refs/make_fixtures.py" + (f" --weights-from {weights_from}" if weights_from else ""),
    }
    with open(os.path.join(fam_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"{family}: wrote {fam_dir} (loss {float(ref['loss']):.6f}, lora_loss {float(ref['lora_loss']):.6f}, "
          f"grad_norm {float(ref['grad_norm']):.6f}, gen_base {ref['gen_base'][0, 6:].tolist()})", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--weights-from", default=None,
                    help="copy model/ and peft_adapter/ from DIR/<family>/ instead of generating them")
    ap.add_argument("--force", action="store_true", help="allow writing into tests/data/fixtures itself")
    args = ap.parse_args()
    vendored = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                             "tests", "data", "fixtures"))
    if os.path.realpath(args.out_dir) == vendored and not args.force:
        sys.exit("refusing to overwrite tests/data/fixtures (its meta.json files hold descriptions this script "
                 "does not regenerate); write elsewhere and compare with check_fixtures.py, or pass --force")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning)
    os.makedirs(args.out_dir, exist_ok=True)
    for fam in args.families.split(","):
        if fam not in FAMILIES:
            sys.exit(f"unknown family {fam!r}; expected one of {FAMILIES}")
        build_family(fam, args.out_dir, args.weights_from)


if __name__ == "__main__":
    main()
