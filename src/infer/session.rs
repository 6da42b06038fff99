//! A generation session: the KV cache of one sequence and the forward pass
//! that extends it. `feed` runs prefill (many tokens) or decode (one token)
//! through every block and returns the logits of the last position.

use crate::model::forward::{block_forward, embed, BlockActs, KvSink, LayerCtx, RopeTables, SeqSpan};
use crate::model::lora::LoraAdapter;
use crate::model::Model;
use crate::ops::linear::linear_forward;
use crate::ops::norm::rmsnorm_forward;
use crate::{Error, Result};

/// Keys and values of every layer, `[n_kv_heads, cap, head_dim]` each.
pub struct KvCache {
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    cap: usize,
    len: usize,
}

impl KvCache {
    pub fn new(model: &Model, cap: usize) -> Self {
        let c = &model.config;
        let per_layer = c.n_kv_heads * cap * c.head_dim;
        KvCache {
            k: (0..c.n_layers).map(|_| vec![0.0; per_layer]).collect(),
            v: (0..c.n_layers).map(|_| vec![0.0; per_layer]).collect(),
            cap,
            len: 0,
        }
    }
    /// Positions filled so far.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn capacity(&self) -> usize {
        self.cap
    }
    /// Forgets everything (the buffers are kept).
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

pub struct Session<'m> {
    model: &'m Model,
    lora: Option<&'m LoraAdapter>,
    cache: KvCache,
    rope: RopeTables,
    acts: BlockActs,
    x: Vec<f32>,
}

impl<'m> Session<'m> {
    /// A session able to hold `cap` positions (prompt and answer).
    pub fn new(model: &'m Model, lora: Option<&'m LoraAdapter>, cap: usize) -> Result<Self> {
        let max = model.config.max_position.max(1);
        if cap > max {
            return Err(Error::invalid(format!("{cap} positions exceed the model's context of {max} tokens")));
        }
        Ok(Session {
            model,
            lora,
            cache: KvCache::new(model, cap),
            rope: RopeTables::new(&model.config, cap),
            acts: BlockActs::default(),
            x: Vec::new(),
        })
    }

    pub fn position(&self) -> usize {
        self.cache.len()
    }

    pub fn capacity(&self) -> usize {
        self.cache.capacity()
    }

    pub fn reset(&mut self) {
        self.cache.clear();
    }

    /// Appends `tokens` and returns the logits after the last one.
    pub fn feed(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        let mut logits = vec![0f32; self.model.config.vocab];
        self.feed_into(tokens, Some(&mut logits))?;
        Ok(logits)
    }

    /// Appends `tokens`; writes the last position's logits if asked.
    pub fn feed_into(&mut self, tokens: &[u32], logits: Option<&mut [f32]>) -> Result<()> {
        let model = self.model;
        let c = &model.config;
        if tokens.is_empty() {
            return Err(Error::invalid("no tokens to feed"));
        }
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= c.vocab) {
            return Err(Error::invalid(format!("token id {bad} is outside the vocabulary of {} tokens", c.vocab)));
        }
        let p0 = self.cache.len;
        if p0 + tokens.len() > self.cache.cap {
            return Err(Error::invalid(format!(
                "context full: {} + {} tokens exceed the session's {} positions",
                p0,
                tokens.len(),
                self.cache.cap
            )));
        }
        let t = tokens.len();
        self.x.resize(t * c.hidden, 0.0);
        embed(model, tokens, &mut self.x);
        let spans = [SeqSpan { start: 0, len: t, pos0: p0 }];
        for (layer, block) in model.blocks.iter().enumerate() {
            let ctx = LayerCtx { cfg: c, layer, rope: self.rope.for_layer(c, layer), lora: self.lora, dropout: None, save_probs: false };
            let kv = KvSink::Cache { k: &mut self.cache.k[layer], v: &mut self.cache.v[layer], cap: self.cache.cap };
            block_forward(&ctx, block, &mut self.x, &spans, kv, &mut self.acts);
        }
        self.cache.len += t;
        if let Some(out) = logits {
            let last = &self.x[(t - 1) * c.hidden..];
            let mut h = vec![0f32; c.hidden];
            rmsnorm_forward(last, &model.final_norm, c.rms_eps, &mut h, None);
            linear_forward(&h, 1, &model.lm_head, None, out);
        }
        Ok(())
    }

    /// Logits at every position of `tokens` from an empty cache (for tests
    /// against references): `[len, vocab]`.
    pub fn all_logits(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        let model = self.model;
        let c = &model.config;
        self.reset();
        self.feed_into(tokens, None)?;
        let t = tokens.len();
        let mut h = vec![0f32; t * c.hidden];
        rmsnorm_forward(&self.x, &model.final_norm, c.rms_eps, &mut h, None);
        let mut out = vec![0f32; t * c.vocab];
        linear_forward(&h, t, &model.lm_head, None, &mut out);
        Ok(out)
    }
}
