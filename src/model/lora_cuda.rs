//! A LoRA adapter on the GPU: A and B of every adapted projection and, for
//! training, their gradients and AdamW moments. The host [`LoraAdapter`]
//! stays the source of truth between steps (checkpoints, PEFT export read it);
//! the training engine copies parameters and moments back after each update.

use crate::cuda::device::Gpu;
use crate::model::backward::AdapterGrads;
use crate::model::lora::LoraAdapter;
use crate::model::Proj;
use crate::ops::lora::LoraGrads;
use crate::ops::lora_cuda::LoraDev;
use crate::{Error, Result};
use cudarc::driver::CudaSlice;
use std::collections::BTreeMap;

/// AdamW's first and second moments on the host, one vector per matrix.
pub type HostMoments<'a> = (&'a mut [Vec<f32>], &'a mut [Vec<f32>]);

/// One adapted projection.
pub struct GpuLora {
    pub r: usize,
    pub in_features: usize,
    pub out_features: usize,
    pub scale: f32,
    pub a: CudaSlice<f32>,
    pub b: CudaSlice<f32>,
    /// Gradients and moments (training only).
    pub train: Option<LoraTrainState>,
}

pub struct LoraTrainState {
    pub ga: CudaSlice<f32>,
    pub gb: CudaSlice<f32>,
    pub ma: CudaSlice<f32>,
    pub va: CudaSlice<f32>,
    pub mb: CudaSlice<f32>,
    pub vb: CudaSlice<f32>,
}

impl GpuLora {
    pub fn dev(&self) -> LoraDev<'_> {
        LoraDev { r: self.r, in_features: self.in_features, out_features: self.out_features, a: &self.a, b: &self.b, scale: self.scale }
    }
}

pub struct GpuAdapter {
    pub layers: Vec<BTreeMap<Proj, GpuLora>>,
}

impl GpuAdapter {
    /// Copies `adapter` to the GPU; with `train`, also zeroed gradients and moments.
    pub fn upload(gpu: &Gpu, adapter: &LoraAdapter, train: bool) -> Result<Self> {
        let mut layers = Vec::with_capacity(adapter.layers.len());
        for m in &adapter.layers {
            let mut out = BTreeMap::new();
            for (p, w) in m {
                if w.r > crate::ops::lora_cuda::MAX_RANK {
                    return Err(Error::invalid(format!(
                        "LoRA rank {}: the CUDA kernels support ranks up to {}",
                        w.r,
                        crate::ops::lora_cuda::MAX_RANK
                    )));
                }
                let state = if train {
                    Some(LoraTrainState {
                        ga: gpu.zeros(w.a.len())?,
                        gb: gpu.zeros(w.b.len())?,
                        ma: gpu.zeros(w.a.len())?,
                        va: gpu.zeros(w.a.len())?,
                        mb: gpu.zeros(w.b.len())?,
                        vb: gpu.zeros(w.b.len())?,
                    })
                } else {
                    None
                };
                out.insert(
                    *p,
                    GpuLora {
                        r: w.r,
                        in_features: w.in_features,
                        out_features: w.out_features,
                        scale: w.scale,
                        a: gpu.upload(&w.a)?,
                        b: gpu.upload(&w.b)?,
                        train: state,
                    },
                );
            }
            layers.push(out);
        }
        Ok(GpuAdapter { layers })
    }

    pub fn get(&self, layer: usize, proj: Proj) -> Option<&GpuLora> {
        self.layers.get(layer).and_then(|m| m.get(&proj))
    }

    /// Every projection in the host adapter's order (layer, then projection).
    pub fn iter(&self) -> impl Iterator<Item = (usize, Proj, &GpuLora)> {
        self.layers.iter().enumerate().flat_map(|(i, m)| m.iter().map(move |(p, w)| (i, *p, w)))
    }

    /// Overwrites the GPU parameters with the host adapter's (same shapes).
    pub fn set_params(&mut self, gpu: &Gpu, adapter: &LoraAdapter) -> Result<()> {
        for (layer, proj, w) in adapter.iter() {
            let g = self
                .layers
                .get_mut(layer)
                .and_then(|m| m.get_mut(&proj))
                .ok_or_else(|| Error::invalid(format!("layer {layer} {proj:?} is not on the GPU")))?;
            gpu.upload_into(&w.a, &mut g.a)?;
            gpu.upload_into(&w.b, &mut g.b)?;
        }
        Ok(())
    }

    /// Sets AdamW moments from the host (resuming from a checkpoint): `m`, `v`
    /// hold A then B of each projection in iteration order.
    pub fn set_moments(&mut self, gpu: &Gpu, m: &[Vec<f32>], v: &[Vec<f32>]) -> Result<()> {
        let mut i = 0;
        for map in &mut self.layers {
            for g in map.values_mut() {
                let st = g.train.as_mut().ok_or_else(|| Error::invalid("adapter uploaded without training state"))?;
                let (ma, va, mb, vb) = (m.get(i), v.get(i), m.get(i + 1), v.get(i + 1));
                let (Some(ma), Some(va), Some(mb), Some(vb)) = (ma, va, mb, vb) else {
                    return Err(Error::invalid("optimiser moments do not match the adapter"));
                };
                gpu.upload_into(ma, &mut st.ma)?;
                gpu.upload_into(va, &mut st.va)?;
                gpu.upload_into(mb, &mut st.mb)?;
                gpu.upload_into(vb, &mut st.vb)?;
                i += 2;
            }
        }
        Ok(())
    }

    pub fn zero_grads(&mut self, gpu: &Gpu) -> Result<()> {
        for map in &mut self.layers {
            for g in map.values_mut() {
                if let Some(st) = g.train.as_mut() {
                    gpu.fill_zero(&mut st.ga)?;
                    gpu.fill_zero(&mut st.gb)?;
                }
            }
        }
        Ok(())
    }

    /// The accumulated gradients, as the CPU engine returns them.
    pub fn download_grads(&self, gpu: &Gpu) -> Result<AdapterGrads> {
        self.layers
            .iter()
            .map(|m| {
                m.iter()
                    .map(|(p, g)| {
                        let st = g.train.as_ref().ok_or_else(|| Error::invalid("adapter uploaded without training state"))?;
                        Ok((
                            *p,
                            LoraGrads { a: gpu.download_n(&st.ga, g.r * g.in_features)?, b: gpu.download_n(&st.gb, g.out_features * g.r)? },
                        ))
                    })
                    .collect::<Result<BTreeMap<_, _>>>()
            })
            .collect()
    }

    /// Copies parameters (and moments, when given: m, v) back to the host.
    pub fn download_into(&self, gpu: &Gpu, adapter: &mut LoraAdapter, moments: Option<HostMoments>) -> Result<()> {
        for (layer, proj, w) in adapter.iter_mut() {
            let g = self.get(layer, proj).ok_or_else(|| Error::invalid(format!("layer {layer} {proj:?} is not on the GPU")))?;
            w.a = gpu.download_n(&g.a, w.a.len())?;
            w.b = gpu.download_n(&g.b, w.b.len())?;
        }
        if let Some((m, v)) = moments {
            let mut i = 0;
            for (_, _, g) in self.iter() {
                let st = g.train.as_ref().ok_or_else(|| Error::invalid("adapter uploaded without training state"))?;
                if i + 1 >= m.len() || i + 1 >= v.len() {
                    return Err(Error::invalid("optimiser moments do not match the adapter"));
                }
                m[i] = gpu.download_n(&st.ma, g.r * g.in_features)?;
                v[i] = gpu.download_n(&st.va, g.r * g.in_features)?;
                m[i + 1] = gpu.download_n(&st.mb, g.out_features * g.r)?;
                v[i + 1] = gpu.download_n(&st.vb, g.out_features * g.r)?;
                i += 2;
            }
        }
        Ok(())
    }
}
