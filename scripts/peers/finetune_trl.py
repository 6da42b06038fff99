"""The PyTorch + transformers + PEFT + TRL side of a fine-tuning comparison:
the original tool's recipe (LoRA r 16, alpha 32, dropout 0.05 on the seven
linear projections, AdamW 2e-4 with 3 % warm-up and cosine decay, completion-
only loss) on Gemma 3 270M with the GGUF's weights dequantised to f32, fp32,
on the CPU. Reads the same chat JSONL as `dyag finetune`.

Usage: python finetune_trl.py MODELS_DIR DATASET.jsonl THREADS [--checkpointing] [--batch-size N] [--epochs N]
Prints train_runtime, tokens/s (TRL's num_tokens / runtime), train_loss,
mean_token_accuracy and the peak RSS. Needs torch, transformers, peft, trl, gguf.
"""
import json
import os
import resource
import sys
import tempfile

import torch
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "..", "..", "tests", "data", "tokenizer", "templates", "gemma3-it.jinja")


def arg(name, default):
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def main():
    models_dir, data_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    checkpointing = "--checkpointing" in sys.argv
    torch.set_num_threads(threads)
    gguf = "gemma-3-270m-q4_k_m.gguf"
    tok = AutoTokenizer.from_pretrained(models_dir, gguf_file=gguf)
    tok.chat_template = open(TEMPLATE).read()
    model = AutoModelForCausalLM.from_pretrained(models_dir, gguf_file=gguf, dtype=torch.float32)
    # The weights are plain f32 tensors once dequantised; transformers still
    # tags the model as GGUF-quantised and refuses to train it, so drop the tag.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    rows = []
    with open(data_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                m = json.loads(line)["messages"]
                rows.append({"prompt": m[:-1], "completion": m[-1:]})
    out = tempfile.mkdtemp()
    cfg = SFTConfig(
        output_dir=out, per_device_train_batch_size=arg("--batch-size", 4), num_train_epochs=arg("--epochs", 1),
        learning_rate=2e-4, lr_scheduler_type="cosine", warmup_steps=0.03,  # transformers 5: a float < 1 is a ratio
        weight_decay=0.0, max_grad_norm=1.0,
        gradient_checkpointing=checkpointing, use_cpu=True, bf16=False, fp16=False, max_length=512,
        logging_steps=1, save_strategy="no", report_to=[], seed=42, dataloader_num_workers=0,
    )
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    trainer = SFTTrainer(model=model, args=cfg, train_dataset=Dataset.from_list(rows), processing_class=tok, peft_config=lora)
    result = trainer.train()
    logs = [h for h in trainer.state.log_history if "num_tokens" in h]
    num_tokens = logs[-1]["num_tokens"] if logs else float("nan")
    accs = [h["mean_token_accuracy"] for h in trainer.state.log_history if "mean_token_accuracy" in h]
    runtime = result.metrics["train_runtime"]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({
        "threads": threads, "gradient_checkpointing": checkpointing, "examples": len(rows),
        "train_runtime": runtime, "num_tokens": num_tokens, "tokens_per_second": num_tokens / runtime,
        "train_loss": result.metrics["train_loss"], "mean_token_accuracy": sum(accs) / max(len(accs), 1),
        "peak_rss_gb": rss / 1e9, "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
