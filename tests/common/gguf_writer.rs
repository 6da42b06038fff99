//! A small GGUF writer for tests: files built value by value, so that the
//! reader and the loader can be fed every malformed or hostile variant, and
//! a complete tiny Gemma 3 model (one layer, a byte-level SentencePiece
//! vocabulary) that the CLI and the C ABI can load and run.

use dyag::quant::GgmlType;

pub const T_U8: u32 = 0;
pub const T_I8: u32 = 1;
pub const T_U16: u32 = 2;
pub const T_I16: u32 = 3;
pub const T_U32: u32 = 4;
pub const T_I32: u32 = 5;
pub const T_F32: u32 = 6;
pub const T_BOOL: u32 = 7;
pub const T_STRING: u32 = 8;
pub const T_ARRAY: u32 = 9;
pub const T_U64: u32 = 10;
pub const T_I64: u32 = 11;
pub const T_F64: u32 = 12;

pub fn gguf_str(s: &[u8]) -> Vec<u8> {
    let mut v = (s.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(s);
    v
}

/// Payload of an array value (without the outer type id): element type, count, elements.
pub fn array_payload(elem_type: u32, items: &[Vec<u8>]) -> Vec<u8> {
    let mut v = elem_type.to_le_bytes().to_vec();
    v.extend_from_slice(&(items.len() as u64).to_le_bytes());
    for it in items {
        v.extend_from_slice(it);
    }
    v
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub struct Tensor {
    pub name: String,
    /// ggml order (innermost first).
    pub dims: Vec<u64>,
    pub ty: u32,
    /// Data offset; `None` places it after the previous tensor, aligned.
    pub offset: Option<u64>,
    pub data: Vec<u8>,
}

impl Tensor {
    pub fn new(name: &str, dims: &[u64], ty: GgmlType, data: Vec<u8>) -> Self {
        Tensor { name: name.into(), dims: dims.to_vec(), ty: ty as u32, offset: None, data }
    }
}

pub struct Builder {
    pub magic: [u8; 4],
    pub version: u32,
    pub n_tensors: Option<u64>,
    pub n_kv: Option<u64>,
    pub kvs: Vec<(Vec<u8>, u32, Vec<u8>)>,
    pub tensors: Vec<Tensor>,
    /// Alignment used to place the data section and the tensors.
    pub alignment: u64,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    pub fn new() -> Self {
        Builder { magic: *b"GGUF", version: 3, n_tensors: None, n_kv: None, kvs: vec![], tensors: vec![], alignment: 32 }
    }

    pub fn kv(mut self, key: &str, ty: u32, payload: Vec<u8>) -> Self {
        self.kvs.push((key.as_bytes().to_vec(), ty, payload));
        self
    }

    /// Replaces the value of `key` (or adds it).
    pub fn set(mut self, key: &str, ty: u32, payload: Vec<u8>) -> Self {
        self.kvs.retain(|(k, _, _)| k != key.as_bytes());
        self.kv(key, ty, payload)
    }

    pub fn tensor(mut self, t: Tensor) -> Self {
        self.tensors.push(t);
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let mut f = self.magic.to_vec();
        f.extend_from_slice(&self.version.to_le_bytes());
        f.extend_from_slice(&self.n_tensors.unwrap_or(self.tensors.len() as u64).to_le_bytes());
        f.extend_from_slice(&self.n_kv.unwrap_or(self.kvs.len() as u64).to_le_bytes());
        for (k, ty, payload) in &self.kvs {
            f.extend_from_slice(&gguf_str(k));
            f.extend_from_slice(&ty.to_le_bytes());
            f.extend_from_slice(payload);
        }
        let mut next = 0u64;
        let mut placed = vec![];
        for t in &self.tensors {
            let off = t.offset.unwrap_or(next);
            next = (off + t.data.len() as u64).next_multiple_of(self.alignment);
            placed.push(off);
            f.extend_from_slice(&gguf_str(t.name.as_bytes()));
            f.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                f.extend_from_slice(&d.to_le_bytes());
            }
            f.extend_from_slice(&t.ty.to_le_bytes());
            f.extend_from_slice(&off.to_le_bytes());
        }
        if !self.tensors.is_empty() {
            f.resize((f.len() as u64).next_multiple_of(self.alignment) as usize, 0);
        }
        let base = f.len();
        for (t, off) in self.tensors.iter().zip(placed).filter(|(t, _)| !t.data.is_empty()) {
            let at = base + off as usize;
            if f.len() < at + t.data.len() {
                f.resize(at + t.data.len(), 0);
            }
            f[at..at + t.data.len()].copy_from_slice(&t.data);
        }
        f
    }
}

pub fn u32_le(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// A complete Gemma 3 model small enough to build in a test: hidden 8, one
/// layer, 2 query heads and 1 KV head of 4, MLP 16, F32 weights from a
/// fixed sequence; its vocabulary is SentencePiece ("llama") with the four
/// specials, Gemma's turn markers and the 256 byte tokens, and it carries a
/// Gemma-style chat template. Hostile variants change one value with
/// [`Builder::set`].
pub fn tiny_gemma3() -> Builder {
    let (hidden, heads, kv_heads, head_dim, ff) = (8u64, 2u64, 1u64, 4u64, 16u64);
    let mut tokens: Vec<Vec<u8>> =
        ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"].iter().map(|t| gguf_str(t.as_bytes())).collect();
    let mut types = vec![3i32, 3, 3, 2, 3, 3]; // control, unknown (3 = control, 2 = unknown)
    for b in 0..=255u8 {
        tokens.push(gguf_str(format!("<0x{b:02X}>").as_bytes()));
        types.push(6); // byte
    }
    let n_vocab = tokens.len() as u64;
    let scores: Vec<Vec<u8>> = (0..n_vocab).map(|_| 0f32.to_le_bytes().to_vec()).collect();
    let types: Vec<Vec<u8>> = types.iter().map(|t| t.to_le_bytes().to_vec()).collect();
    let template = "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m.role == 'assistant' else m.role }}\n{{ m.content | trim }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}";
    let mut seed = 1u32;
    let mut values = |n: u64, scale: f32| -> Vec<u8> {
        f32_bytes(
            &(0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
                    ((seed >> 9) as f32 / (1 << 23) as f32 - 0.5) * scale
                })
                .collect::<Vec<_>>(),
        )
    };
    let ones = |n: u64| f32_bytes(&vec![0.1; n as usize]);
    let mut b = Builder::new()
        .kv("general.architecture", T_STRING, gguf_str(b"gemma3"))
        .kv("gemma3.block_count", T_U32, u32_le(1))
        .kv("gemma3.embedding_length", T_U32, u32_le(hidden as u32))
        .kv("gemma3.attention.head_count", T_U32, u32_le(heads as u32))
        .kv("gemma3.attention.head_count_kv", T_U32, u32_le(kv_heads as u32))
        .kv("gemma3.attention.key_length", T_U32, u32_le(head_dim as u32))
        .kv("gemma3.attention.value_length", T_U32, u32_le(head_dim as u32))
        .kv("gemma3.feed_forward_length", T_U32, u32_le(ff as u32))
        .kv("gemma3.context_length", T_U32, u32_le(256))
        .kv("gemma3.attention.sliding_window", T_U32, u32_le(64))
        .kv("gemma3.attention.layer_norm_rms_epsilon", T_F32, 1e-6f32.to_le_bytes().to_vec())
        .kv("gemma3.rope.freq_base", T_F32, 1e6f32.to_le_bytes().to_vec())
        .kv("tokenizer.ggml.model", T_STRING, gguf_str(b"llama"))
        .kv("tokenizer.ggml.tokens", T_ARRAY, array_payload(T_STRING, &tokens))
        .kv("tokenizer.ggml.scores", T_ARRAY, array_payload(T_F32, &scores))
        .kv("tokenizer.ggml.token_type", T_ARRAY, array_payload(T_I32, &types))
        .kv("tokenizer.ggml.bos_token_id", T_U32, u32_le(2))
        .kv("tokenizer.ggml.eos_token_id", T_U32, u32_le(1))
        .kv("tokenizer.ggml.unknown_token_id", T_U32, u32_le(3))
        .kv("tokenizer.ggml.padding_token_id", T_U32, u32_le(0))
        .kv("tokenizer.ggml.add_bos_token", T_BOOL, vec![1])
        .kv("tokenizer.chat_template", T_STRING, gguf_str(template.as_bytes()));
    let f32t = |name: &str, dims: &[u64], data: Vec<u8>| Tensor::new(name, dims, GgmlType::F32, data);
    let (q, kv) = (heads * head_dim, kv_heads * head_dim);
    b = b
        .tensor(f32t("token_embd.weight", &[hidden, n_vocab], values(hidden * n_vocab, 1.0)))
        .tensor(f32t("output_norm.weight", &[hidden], ones(hidden)))
        .tensor(f32t("blk.0.attn_norm.weight", &[hidden], ones(hidden)))
        .tensor(f32t("blk.0.attn_q.weight", &[hidden, q], values(hidden * q, 0.5)))
        .tensor(f32t("blk.0.attn_k.weight", &[hidden, kv], values(hidden * kv, 0.5)))
        .tensor(f32t("blk.0.attn_v.weight", &[hidden, kv], values(hidden * kv, 0.5)))
        .tensor(f32t("blk.0.attn_output.weight", &[q, hidden], values(q * hidden, 0.5)))
        .tensor(f32t("blk.0.attn_q_norm.weight", &[head_dim], ones(head_dim)))
        .tensor(f32t("blk.0.attn_k_norm.weight", &[head_dim], ones(head_dim)))
        .tensor(f32t("blk.0.post_attention_norm.weight", &[hidden], ones(hidden)))
        .tensor(f32t("blk.0.ffn_norm.weight", &[hidden], ones(hidden)))
        .tensor(f32t("blk.0.ffn_gate.weight", &[hidden, ff], values(hidden * ff, 0.5)))
        .tensor(f32t("blk.0.ffn_up.weight", &[hidden, ff], values(hidden * ff, 0.5)))
        .tensor(f32t("blk.0.ffn_down.weight", &[ff, hidden], values(ff * hidden, 0.5)))
        .tensor(f32t("blk.0.post_ffw_norm.weight", &[hidden], ones(hidden)));
    b
}
