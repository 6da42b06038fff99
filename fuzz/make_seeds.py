#!/usr/bin/env python3
"""Writes the named seed inputs of every fuzz target into fuzz/corpus/<target>/
(input layouts: fuzz/harness.rs). Seeds come from the repository's test data,
examples and built-in templates, plus small files built here: GGUF models of
each family (the Gemma 3 one with the real model's metadata, shrunk), GGUF and
safetensors files with every value and tensor type. With the real model
(models/gemma-3-270m-q4_k_m.gguf, or DYAG_MODEL=path) the first 64 KiB of its
header are a seed too. The corpora are then minimised with `cargo fuzz cmin`
(scripts/fuzz.sh --cmin), which renames files after their hash.

Usage: python3 fuzz/make_seeds.py [OUT_DIR]   (default: fuzz/corpus)
       python3 fuzz/make_seeds.py --findings  (the hand-written reproducers in fuzz/findings)
"""
import json
import os
import random
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "--findings" else ROOT / "fuzz" / "corpus"
MODEL = Path(os.environ.get("DYAG_MODEL", ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"))
rng = random.Random(7)


def put(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def lines_prefix(path, max_bytes=4096):
    """The first whole lines of a text file, at most max_bytes."""
    out = b""
    for line in Path(path).read_bytes().splitlines(keepends=True):
        if len(out) + len(line) > max_bytes:
            break
        out += line
    return out


# ------------------------------------------------------------------ GGUF writer

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?", U64: "Q", I64: "q", F64: "d"}
# ggml type id: (block elements, block bytes)
GGML = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
        10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 30: (1, 2)}
T_F32, T_F16, T_Q4_0, T_Q4_1, T_Q5_0, T_Q5_1, T_Q8_0, T_Q2_K, T_Q3_K, T_Q4_K, T_Q5_K, T_Q6_K, T_BF16 = 0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 30


def gstr(s):
    b = s if isinstance(s, bytes) else s.encode()
    return struct.pack("<Q", len(b)) + b


def payload(ty, v):
    if ty in SCALAR:
        return struct.pack("<" + SCALAR[ty], v)
    if ty == STRING:
        return gstr(v)
    et, items = v  # ARRAY
    return struct.pack("<IQ", et, len(items)) + b"".join(payload(et, x) for x in items)


def tensor_bytes(ty, dims):
    n = 1
    for d in dims:
        n *= d
    blk, size = GGML[ty]
    assert dims[0] % blk == 0, (ty, dims)
    return n // blk * size


def tensor_data(ty, dims):
    n = tensor_bytes(ty, dims)
    if ty == T_F32:
        return struct.pack(f"<{n // 4}f", *[rng.uniform(-0.5, 0.5) for _ in range(n // 4)])
    if ty in (T_F16, T_BF16):
        # small values in both encodings: sign, exponent 0x3x / 0x3Fxx
        return b"".join(struct.pack("<H", (0x3000 if ty == T_F16 else 0x3E00) | rng.randrange(0x100)) for _ in range(n // 2))
    return bytes(rng.randrange(256) for _ in range(n))


def gguf(kvs, tensors, alignment=32):
    """kvs: [(key, type, value)]; tensors: [(name, ggml dims innermost first, type)]."""
    f = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, ty, v in kvs:
        f += gstr(k) + struct.pack("<I", ty) + payload(ty, v)
    off, datas = 0, []
    for name, dims, ty in tensors:
        data = tensor_data(ty, dims)
        f += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", ty, off)
        datas.append((off, data))
        off = (off + len(data) + alignment - 1) // alignment * alignment
    f += b"\0" * (-len(f) % alignment)
    base = len(f)
    out = bytearray(f + b"\0" * off)
    for o, d in datas:
        out[base + o:base + o + len(d)] = d
    return bytes(out[:base + max((o + len(d) for o, d in datas), default=0)])


def model_tensors(h, heads, kv, hd, ff, layers, vocab, types, fused=False, bias=False, gemma=False, untied=True):
    t = [("token_embd.weight", [h, vocab], types.get("embd", T_F32)), ("output_norm.weight", [h], T_F32)]
    if untied:
        t.append(("output.weight", [h, vocab], types.get("embd", T_F32)))
    for i in range(layers):
        p = f"blk.{i}."
        m = types.get("mat", T_F32)
        t.append((p + "attn_norm.weight", [h], T_F32))
        if fused:
            t.append((p + "attn_qkv.weight", [h, heads * hd + 2 * kv * hd], m))
        else:
            t += [(p + "attn_q.weight", [h, heads * hd], types.get("q", m)), (p + "attn_k.weight", [h, kv * hd], types.get("k", m)),
                  (p + "attn_v.weight", [h, kv * hd], types.get("v", m))]
            if bias:
                t += [(p + "attn_q.bias", [heads * hd], T_F32), (p + "attn_k.bias", [kv * hd], T_F32), (p + "attn_v.bias", [kv * hd], T_F32)]
        t.append((p + "attn_output.weight", [heads * hd, h], types.get("o", m)))
        if gemma:
            t += [(p + "attn_q_norm.weight", [hd], T_F32), (p + "attn_k_norm.weight", [hd], T_F32),
                  (p + "post_attention_norm.weight", [h], T_F32), (p + "post_ffw_norm.weight", [h], T_F32)]
        t.append((p + "ffn_norm.weight", [h], T_F32))
        if fused:
            t.append((p + "ffn_up.weight", [h, 2 * ff], m))
        else:
            t += [(p + "ffn_gate.weight", [h, ff], types.get("gate", m)), (p + "ffn_up.weight", [h, ff], types.get("up", m))]
        t.append((p + "ffn_down.weight", [ff, h], types.get("down", m)))
    return t


def arch_kvs(arch, h, heads, kv, hd, ff, layers, ctx=2048, extra=()):
    return [("general.architecture", STRING, arch), ("general.name", STRING, f"fuzz mini {arch}"),
            (f"{arch}.context_length", U32, ctx), (f"{arch}.embedding_length", U32, h), (f"{arch}.block_count", U32, layers),
            (f"{arch}.feed_forward_length", U32, ff), (f"{arch}.attention.head_count", U32, heads),
            (f"{arch}.attention.head_count_kv", U32, kv), (f"{arch}.attention.key_length", U32, hd),
            (f"{arch}.attention.layer_norm_rms_epsilon", F32, 1e-5), (f"{arch}.rope.freq_base", F32, 10000.0), *extra]


def spm_vocab(extra_special=()):
    """A small SentencePiece vocabulary: control tokens, a few byte tokens, pieces."""
    byte_tokens = [f"<0x{i:02X}>" for i in (0x0A, 0x20, 0xC3, 0xA9)]
    pieces = ["\u2581", "\u2581the", "\u2581a", "e", "t", "o", "n", "s", "he", "in", "\u2581H", "ello", "\u2581w", "orld"]
    toks = ["<unk>", "<s>", "</s>", *extra_special] + byte_tokens + pieces
    types = [2, 3, 3] + [3] * len(extra_special) + [6] * len(byte_tokens) + [1] * len(pieces)
    scores = [0.0] * (3 + len(extra_special) + len(byte_tokens)) + [-float(i) for i in range(len(pieces))]
    return toks, types, scores


def tokenizer_kvs(model, toks, types, scores=None, merges=None, pre=None, template=None, bos=1, eos=2):
    kv = [("tokenizer.ggml.model", STRING, model), ("tokenizer.ggml.tokens", ARRAY, (STRING, toks)),
          ("tokenizer.ggml.token_type", ARRAY, (I32, types)), ("tokenizer.ggml.bos_token_id", U32, bos),
          ("tokenizer.ggml.eos_token_id", U32, eos)]
    if scores is not None:
        kv.append(("tokenizer.ggml.scores", ARRAY, (F32, scores)))
        kv.append(("tokenizer.ggml.unknown_token_id", U32, 0))
    if merges is not None:
        kv.append(("tokenizer.ggml.merges", ARRAY, (STRING, merges)))
    if pre is not None:
        kv.append(("tokenizer.ggml.pre", STRING, pre))
    if template is not None:
        kv.append(("tokenizer.chat_template", STRING, template))
    return kv


def byte_level_chars():
    """GPT-2's byte → unicode table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def mini_gemma3(window=2, layers=2):
    toks, types, scores = spm_vocab(["<start_of_turn>", "<end_of_turn>"])
    extra = [("gemma3.attention.sliding_window", U32, window), ("gemma3.attention.sliding_window_pattern", U32, 2)]
    return gguf(arch_kvs("gemma3", 8, 2, 1, 4, 16, layers, extra=extra) + tokenizer_kvs("llama", toks, types, scores, bos=1, eos=2),
                model_tensors(8, 2, 1, 4, 16, 2, len(toks), {}, gemma=True, untied=False))


def gguf_seeds():
    templates = ROOT / "tests" / "data" / "tokenizer" / "templates"
    # llama: SentencePiece vocabulary, F32, untied output.
    toks, types, scores = spm_vocab()
    v = len(toks)
    put("gguf", "mini-llama-spm-f32.gguf", gguf(arch_kvs("llama", 8, 2, 1, 4, 16, 1) + tokenizer_kvs("llama", toks, types, scores),
                                                model_tensors(8, 2, 1, 4, 16, 1, v, {})))
    # qwen2: byte-level BPE with merges and a chat template, F16 matrices, q/k/v biases, tied.
    bl = byte_level_chars()
    toks = bl + ["\u0120t", "he", "\u0120the", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    types = [1] * (len(bl) + 3) + [3, 3, 3]
    merges = ["\u0120 t", "h e", "\u0120t he"]
    tpl = (templates / "qwen2.5-instruct.jinja").read_text()
    put("gguf", "mini-qwen2-bpe-f16.gguf",
        gguf(arch_kvs("qwen2", 8, 2, 1, 4, 16, 1) + tokenizer_kvs("gpt2", toks, types, None, merges, "qwen2", tpl, len(toks) - 3, len(toks) - 1),
             model_tensors(8, 2, 1, 4, 16, 1, len(toks), {"mat": T_F16, "embd": T_F16}, bias=True, untied=False)))
    # phi3: fused qkv and gate_up, SentencePiece with chat tokens, BF16 matrices.
    toks, types, scores = spm_vocab(["<|user|>", "<|assistant|>", "<|end|>"])
    put("gguf", "mini-phi3-fused-bf16.gguf",
        gguf(arch_kvs("phi3", 8, 2, 2, 4, 16, 1) + tokenizer_kvs("llama", toks, types, scores),
             model_tensors(8, 2, 2, 4, 16, 1, len(toks), {"mat": T_BF16}, fused=True)))
    # llama with a sliding window and linear rope scaling, 2 layers, Q8_0/Q4_0/Q4_1/Q5_1 matrices.
    toks, types, scores = spm_vocab()
    extra = [("llama.attention.sliding_window", U32, 2), ("llama.rope.scaling.type", STRING, "linear"), ("llama.rope.scaling.factor", F32, 2.0)]
    put("gguf", "mini-llama-window-q8.gguf",
        gguf(arch_kvs("llama", 32, 2, 1, 16, 32, 2, extra=extra) + tokenizer_kvs("llama", toks, types, scores),
             model_tensors(32, 2, 1, 16, 32, 2, len(toks), {"mat": T_Q8_0, "embd": T_Q4_0, "q": T_Q4_1, "k": T_Q5_1, "down": T_Q5_0})))
    # gemma3: sliding window every other layer, q/k norms, sandwich norms, tied embeddings.
    put("gguf", "mini-gemma3-window-f32.gguf", mini_gemma3())
    # Every metadata value type, nested arrays, and one tensor of every type.
    kvs = [("general.architecture", STRING, "none"), ("general.alignment", U32, 32), ("u8", U8, 255), ("i8", I8, -128),
           ("u16", U16, 65535), ("i16", I16, -32768), ("u32", U32, 4294967295), ("i32", I32, -2147483648), ("f32", F32, 1.5),
           ("bool", BOOL, True), ("string", STRING, "ünïcödé"), ("u64", U64, 2**64 - 1), ("i64", I64, -2**63), ("f64", F64, -0.25),
           ("arr.u8", ARRAY, (U8, [1, 2, 3])), ("arr.i32", ARRAY, (I32, [-1, 0, 1])), ("arr.u64", ARRAY, (U64, [2**63, 1])),
           ("arr.f64", ARRAY, (F64, [0.5, 1e300])), ("arr.bool", ARRAY, (BOOL, [True, False])), ("arr.str", ARRAY, (STRING, ["a", "", "bc"])),
           ("arr.empty", ARRAY, (F32, [])), ("arr.nested", ARRAY, (ARRAY, [(U16, [1, 2]), (STRING, ["x"])]))]
    tensors = [(f"t.{ty}", [GGML[ty][0] * 2, 2], ty) for ty in sorted(GGML)] + [("t.scalar", [1], T_F32), ("t.3d", [4, 2, 2], T_F16)]
    put("gguf", "every-type.gguf", gguf(kvs, tensors))
    if not MODEL.is_file():
        print(f"note: {MODEL} not found: no seeds from the real model's header", file=sys.stderr)
        return
    header = MODEL.read_bytes()[:8 << 20]
    put("gguf", "gemma-3-270m-header-64k.gguf", header[:64 << 10])
    # Gemma 3 with the real model's metadata (the vocabulary arrays cut to 61
    # tokens), shrunk to one small layer with the real tensor types.
    pos = 24
    n_kv = struct.unpack_from("<Q", header, 16)[0]

    def read(ty):
        nonlocal pos
        if ty in SCALAR:
            (v,) = struct.unpack_from("<" + SCALAR[ty], header, pos)
            pos += struct.calcsize(SCALAR[ty])
            return v
        if ty == STRING:
            (n,) = struct.unpack_from("<Q", header, pos)
            pos += 8 + n
            return header[pos - n:pos]
        et, n = struct.unpack_from("<IQ", header, pos)
        pos += 12
        return (et, [read(et) for _ in range(n)])

    # Control tokens (ids 0-7 keep pad/eos/bos/unk where the metadata says),
    # the turn markers, a few byte tokens and the first merged pieces.
    keep = list(range(8)) + [105, 106, 107] + list(range(238, 248)) + list(range(494, 534))
    vocab = len(keep)
    dims = {"embedding_length": 32, "feed_forward_length": 256, "attention.head_count": 4, "attention.head_count_kv": 1,
            "attention.key_length": 64, "attention.value_length": 64, "block_count": 1}
    kvs = []
    for _ in range(n_kv):
        k = read(STRING).decode()
        (ty,) = struct.unpack_from("<I", header, pos)
        pos += 4
        val = read(ty)
        if ty == ARRAY and len(val[1]) > vocab:
            val = (val[0], [val[1][i] for i in keep])
        short = k.removeprefix("gemma3.")
        if short in dims:
            val = dims[short]
        kvs.append((k, ty, val))
    types = {"embd": T_Q8_0, "q": T_Q5_0, "k": T_Q5_0, "v": T_Q8_0, "o": T_Q4_K, "gate": T_Q5_0, "up": T_Q5_0, "down": T_Q6_K}
    put("gguf", "gemma-3-270m-metadata-shrunk.gguf", gguf(kvs, model_tensors(32, 4, 1, 64, 256, 1, vocab, types, gemma=True, untied=False)))


# ------------------------------------------------------------------ safetensors

def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, bytes)]."""
    header, data = {}, b""
    for name, dtype, shape, b in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def read_safetensors(path):
    b = Path(path).read_bytes()
    (n,) = struct.unpack_from("<Q", b)
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__", None)
    return [(k, v["dtype"], v["shape"], b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]) for k, v in header.items()], meta


def adapter_subset(fam, f16=False):
    """A fixture adapter cut to layer 0's first two projections and layer 1's last
    (a few KiB instead of 36), F16 when asked."""
    tensors, meta = read_safetensors(ROOT / "tests" / "data" / "fixtures" / fam / "peft_adapter" / "adapter_model.safetensors")
    modules = sorted({t[0].rsplit(".lora_", 1)[0] for t in tensors})
    layer0 = [m for m in modules if ".layers.0." in m][:2]
    layer1 = [m for m in modules if ".layers.1." in m][-1:]
    keep = [t for t in tensors if t[0].rsplit(".lora_", 1)[0] in layer0 + layer1]
    if f16:
        keep = [(n, "F16", shape, struct.pack(f"<{len(b) // 4}e", *struct.unpack(f"<{len(b) // 4}f", b))) for n, _, shape, b in keep]
    return safetensors(keep, meta)


def safetensors_seeds():
    fixtures = ROOT / "tests" / "data" / "fixtures"
    for fam in ["llama", "phi3"]:
        put("safetensors", f"{fam}-adapter-subset.safetensors", adapter_subset(fam))
    tensors, meta = read_safetensors(fixtures / "qwen2" / "model" / "model.safetensors")
    small = sorted(tensors, key=lambda t: len(t[3]))[:8]
    put("safetensors", "qwen2-model-small-tensors.safetensors", safetensors(small, meta or {"format": "pt"}))
    f32 = struct.pack("<4f", 1.0, -2.0, 0.5, 3.25)
    zoo = [("f32", "F32", [2, 2], f32), ("f16", "F16", [4], struct.pack("<4e", 1, -2, 0.5, 65504)),
           ("bf16", "BF16", [2, 2], b"\x80\x3f\x00\xc0\x00\x3f\x50\x40"), ("f64", "F64", [1], struct.pack("<d", 1.0)),
           ("i64", "I64", [2], struct.pack("<2q", -1, 7)), ("i32", "I32", [1], struct.pack("<i", 3)), ("u8", "U8", [3], b"\1\2\3"),
           ("bool", "BOOL", [2], b"\0\1"), ("scalar", "F32", [], struct.pack("<f", 7.0)), ("empty", "F32", [0, 4], b""),
           ("3d", "F16", [1, 2, 2], struct.pack("<4e", 1, 2, 3, 4))]
    put("safetensors", "dtype-zoo.safetensors", safetensors(zoo, {"format": "pt", "note": "ünïcödé"}))


# ------------------------------------------------------------------ the rest

def main():
    data = ROOT / "tests" / "data"
    gguf_seeds()
    safetensors_seeds()

    fixtures = data / "fixtures"
    families = ["llama", "gemma3", "qwen2", "phi3"]  # fuzz/harness.rs FIXTURES order
    for fam in families:
        put("hf_config", f"{fam}-config.json", (fixtures / fam / "model" / "config.json").read_bytes())
    g = json.loads((fixtures / "gemma3" / "model" / "config.json").read_text())
    n = g["num_hidden_layers"]
    g5 = dict(g, layer_types=["sliding_attention" if (i + 1) % 6 else "full_attention" for i in range(n)],
              rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 1e6},
                               "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}})
    for k in ["rope_theta", "rope_local_base_freq", "rope_scaling"]:
        g5.pop(k, None)
    put("hf_config", "gemma3-transformers5-config.json", json.dumps(g5, indent=1))
    put("hf_config", "gemma3-multimodal-config.json", json.dumps({"model_type": "gemma3", "architectures": ["Gemma3ForConditionalGeneration"], "text_config": g}))
    lcfg = json.loads((fixtures / "llama" / "model" / "config.json").read_text())
    put("hf_config", "llama-rope-scaling-window-config.json",
        json.dumps(dict(lcfg, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                            "original_max_position_embeddings": 8192}, sliding_window=2, model_type="mistral")))

    for i, fam in enumerate(families):
        cfg = (fixtures / fam / "peft_adapter" / "adapter_config.json").read_bytes()
        weights = adapter_subset(fam, f16=fam == "gemma3")
        put("peft", f"{fam}-adapter.bin", bytes([i]) + struct.pack("<H", len(cfg)) + cfg + weights)

    for p in ["capi/train.jsonl", "capi/bad_line.jsonl", "seed_workflow/train.jsonl", "generate_training/augmented_seed7_val.jsonl",
              "generate_training/rule_based_en_md_seed7.jsonl"]:
        put("chat_jsonl", p.replace("/", "-"), lines_prefix(data / p))
    conv = '{"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}'
    put("chat_jsonl", "bom-crlf-blank.jsonl", b"\xef\xbb\xbf" + (conv + "\r\n\r\n" + conv + "\n").encode())
    put("chat_jsonl", "problems.jsonl", "\n".join([
        '{"messages": []}', '{"messages": [{"role": "robot", "content": ""}]}', '[1]', '{"messages": [{"role": "assistant", "content": "A"}]}',
        '{"messages": [{"role": "user", "content": "Q"}, {"role": "user", "content": "Q"}]}', conv, conv]) + "\n\xff\n")

    for p in ["capi/questions.jsonl", "capi/bad_questions.jsonl", "eval/questions.jsonl", "quality/questions.jsonl",
              "seed_workflow/questions.jsonl", "generate_training/augmented_seed7_test_questions.jsonl"]:
        put("questions", p.replace("/", "-"), lines_prefix(data / p))
    for p in ["dev/questions.jsonl", "test/questions.jsonl"]:
        put("questions", "bench-" + p.replace("/", "-"), lines_prefix(ROOT / "benches" / "quality" / p))

    for p in sorted((data / "eval" / "compare").glob("*.json")):
        put("results", p.name, p.read_bytes())

    put("catalogue_md", "eval-catalogue.md", (data / "eval" / "catalogue.md").read_bytes())
    put("catalogue_md", "example-applications.md", lines_prefix(ROOT / "examples" / "catalogue" / "applications.md", 8192))
    put("catalogue_md", "edge-cases.md", "\n".join([
        "# Org", "<!-- hidden", "## not a record -->", "## App One", "| Champ | Valeur |", "|---|---|", "| Hébergement | Lyon |",
        "| Technologies | Java, [Spring](http://x) |", "```", "## fenced", "```", "- **Owner**: Team <b>A</b>", "## App Two", "Free text [link][1].",
        "[1]: http://example.com", "### Sub", "* Users : 10", "~~~md", "~~~"]) + "\n")

    for p in [data / "eval" / "catalogue.jsonl", ROOT / "examples" / "catalogue" / "applications.jsonl", ROOT / "benches" / "quality" / "dev" / "catalogue.jsonl"]:
        put("catalogue_jsonl", p.parent.name + "-" + p.name, lines_prefix(p))
    recs = [json.loads(l) for l in lines_prefix(data / "eval" / "catalogue.jsonl").decode().splitlines() if l.strip()]
    put("catalogue_jsonl", "array.json", json.dumps(recs, ensure_ascii=False, indent=1))
    put("catalogue_jsonl", "wrapped.json", json.dumps({"applications": recs}, ensure_ascii=False))

    for p in sorted((ROOT / "src" / "tokenizer" / "templates").glob("*.jinja")) + sorted((data / "tokenizer" / "templates").glob("*.jinja")):
        put("chat_template", f"template-{'builtin' if 'src' in p.parts else 'official'}-{p.stem}", b"\x00" + p.read_bytes())
    msgs = [(0, "You are terse."), (1, "Hi {{ bos_token }} <start_of_turn>"), (2, "Hello."), (1, "Ünïcödé\nline two")]
    body = b"\x1e".join(bytes([r]) + c.encode() for r, c in msgs)
    for k in range(6):
        put("chat_template", f"builtin-{k}-messages", bytes([0x81 | (k << 1)]) + body)
    put("chat_template", "builtin-gemma-tool-role", bytes([0x01]) + b"\x03tool output\x1e\x01question")


def finding(target, name, data):
    d = ROOT / "fuzz" / "findings" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def findings():
    """The hand-written reproducers of fuzz/findings/README.md (the others are
    the fuzzer's own artifacts, copied there)."""
    fixtures = ROOT / "tests" / "data" / "fixtures"
    toks, types, scores = spm_vocab()
    huge = arch_kvs("llama", 8, 2, 1, 4, 16, 1)
    huge[4] = ("llama.block_count", U64, 2**40)
    finding("gguf", "F03-block-count-2e40.gguf", gguf(huge + tokenizer_kvs("llama", toks, types, scores), model_tensors(8, 2, 1, 4, 16, 1, len(toks), {})))
    finding("gguf", "F04-gemma3-sliding-window-0.gguf", mini_gemma3(window=0))
    cfg = json.loads((fixtures / "llama" / "model" / "config.json").read_text())
    finding("hf_config", "F05-num-hidden-layers-2e40.json", json.dumps(dict(cfg, num_hidden_layers=2**40)))
    finding("chat_template", "F06-nested-loops-hang", b"\x00{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}")
    finding("chat_template", "F07-output-growth", b"\x00{% for a in range(100000) %}{% for b in range(10000) %}{{ 'x' * 10000 }}{% endfor %}{% endfor %}")
    finding("catalogue_md", "F08-run-of-brackets.md", "# T\n## A\n" + "[" * 32768 + "\n")
    finding("catalogue_md", "F09-run-of-angle-brackets.md", "# T\n## A\n" + "<" * 32767 + ">\n")
    dup = {
        "questions": b'{"question": "Who hosts A?", "question": "Who runs A?", "expected": "Lyon"}\n',
        "results": None,
        "chat_jsonl": b'{"messages": [{"role": "user", "content": "Q", "content": "R"}, {"role": "assistant", "content": "A"}]}\n',
        "catalogue_jsonl": '{"nom": "A", "nom": "B", "hébergement": "Lyon"}\n'.encode(),
        "hf_config": json.dumps(cfg)[:-1].encode() + b', "num_hidden_layers": 1}',
        "peft": None,
    }
    r = (ROOT / "tests" / "data" / "eval" / "compare" / "results_rag.json").read_bytes()
    dup["results"] = r.replace(b'"schema_version"', b'"schema_version": 2, "schema_version"', 1)
    pc = (fixtures / "llama" / "peft_adapter" / "adapter_config.json").read_bytes()
    pc = pc.replace(b'"r":', b'"r": 2, "r":', 1)
    pw = (fixtures / "llama" / "peft_adapter" / "adapter_model.safetensors").read_bytes()
    dup["peft"] = bytes([0]) + struct.pack("<H", len(pc)) + pc + pw
    for target, data in dup.items():
        finding(target, "F10-duplicate-key" + (".json" if target in ("results", "hf_config") else ".jsonl" if target != "peft" else ".bin"), data)


if __name__ == "__main__":
    findings() if sys.argv[1:] == ["--findings"] else main()
