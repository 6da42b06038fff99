"""The PyTorch + PEFT side of `dyag bench --train`, for a side-by-side ratio.

Same recipe as dyag's benchmark and tests/data/refs/README.md: Gemma 3 270M with
the GGUF's weights dequantised to f32 (transformers' GGUF loader), LoRA r 16,
alpha 32, dropout 0.05 on the seven linear projections, AdamW, fp32, a batch of
4 sequences of 128 ordinary tokens whose second half is labelled. Prints
tokens/s over the measured steps (after one warm-up step) and the peak RSS.

Usage: python bench_pytorch_lora.py MODELS_DIR THREADS [STEPS] [--checkpointing]
Needs: torch, transformers, peft, gguf (pip).
"""
import resource
import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM


def main():
    models_dir, threads = sys.argv[1], int(sys.argv[2])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 and not sys.argv[3].startswith("--") else 3
    checkpointing = "--checkpointing" in sys.argv
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(models_dir, gguf_file="gemma-3-270m-q4_k_m.gguf", torch_dtype=torch.float32)
    if checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    cfg = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = get_peft_model(model, cfg)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    batch, seq = 4, 128
    ids = torch.randint(1000, model.config.vocab_size, (batch, seq))
    labels = ids.clone()
    labels[:, : seq // 2] = -100

    def step():
        out = model(input_ids=ids, labels=labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()
        opt.zero_grad()
        return out.loss.item()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    per_step = (time.perf_counter() - t0) / steps
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"pytorch threads {threads}: training {batch * seq / per_step:.1f} tokens/s (batch {batch} x {seq} tokens), "
          f"{per_step:.2f} s/step, peak RSS {rss / 1e9:.2f} GB, checkpointing {checkpointing}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
