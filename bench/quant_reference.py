#!/usr/bin/env python3
"""The Hugging Face + bitsandbytes side of our quant-gpu benchmark, same measurements, same GPU, same run:

    python3 bench/quant_reference.py --config opt-2.7b --device cuda --dtype float16 --warmup 1 --iterations 3

The unquantized model is reference.py's (random weights made on the device, Q-Former float32). bitsandbytes quantizes
through transformers' own path, from_pretrained(quantization_config=BitsAndBytesConfig(...)), so the random model is
saved once (safetensors, under --dir, deleted at the end) and loaded back as LLM.int8 (load_in_8bit) and as 4-bit NF4
with the compute dtype = --dtype (load_in_4bit); transformers leaves the Q-Former (_keep_in_fp32_modules), the
projection and the LM head unconverted, as our QuantizationPlan. Per variant: parameter bytes
(get_memory_footprint), the device memory it added (torch.cuda.memory_allocated, and nvidia-smi's memory.used), load
seconds, ms per decoded token ((30-token greedy caption − 1-token) / 29, as decode-token), and fidelity against the
unquantized model (teacher-forced logits on its own greedy 20-token caption: top-1 agreement, ‖Δ‖/‖logits‖). Without
an importable bitsandbytes it reports why (one line, "error") and measures the unquantized model only.
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import CAPTION_TOKENS, DTYPES, Bench  # noqa: E402

FIDELITY_TOKENS = 20


def gpu_used_mb():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
                             capture_output=True, text=True, timeout=20)
        return float(out.stdout.strip().splitlines()[0]) if out.returncode == 0 else None
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="opt-2.7b")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="float16", choices=list(DTYPES))
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the random checkpoint is saved (deleted after)")
    parser.add_argument("--variants", default="int8,nf4", help="bitsandbytes variants: int8, nf4, fp4")
    args = parser.parse_args()
    bench = Bench(args)
    dtype = DTYPES[args.dtype]

    def report(variant, metric, value, unit, **extra):
        line = {"impl": "hf-bnb", "name": "quant-gpu", "config": args.config, "device": args.device, "dtype": args.dtype,
                "variant": variant, "metric": metric, "value": None if value is None else round(value, 4), "unit": unit}
        line.update({k: round(v, 4) if isinstance(v, float) else v for k, v in extra.items()})
        line.update({"torch": torch.__version__, "transformers": transformers.__version__,
                     "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat()})
        print(json.dumps(line), flush=True)

    def measure(variant, model, allocated_before, gpu_before, seconds, reference_logits=None, sequence=None):
        report(variant, "parameter_bytes", model.get_memory_footprint() / 1e6, "MB", create_s=seconds)
        gpu_after = gpu_used_mb()
        report(variant, "device_memory_added", (torch.cuda.memory_allocated() - allocated_before) / 1e6, "MB",
               source="torch.cuda.memory_allocated", nvidia_smi_added_mb=None if gpu_before is None or gpu_after is None else gpu_after - gpu_before)
        pixels = bench.pixels(model, 1)
        ids, mask = bench.caption_prompt(model, 1)
        prefill, _ = bench.time(lambda: bench.generate(model, pixels, ids, mask, 1, 1))
        total, _ = bench.time(lambda: bench.generate(model, pixels, ids, mask, CAPTION_TOKENS, 1))
        report(variant, "per_token", (total - prefill) / (CAPTION_TOKENS - 1), "ms", prefill_ms=prefill, total_ms=total,
               new_tokens=CAPTION_TOKENS, iterations=args.iterations)
        if reference_logits is not None:
            actual = logits(model, pixels, sequence, ids.shape[1])
            top1 = (reference_logits.argmax(-1) == actual.argmax(-1)).double().mean().item()
            error = ((actual - reference_logits).norm() / reference_logits.norm()).item()
            report(variant, "fidelity", error, "relative_logit_error", top1_agreement=top1, positions=actual.shape[1], against=args.dtype)

    def logits(model, pixels, sequence, prompt_length):
        with torch.inference_mode():
            out = model(pixel_values=pixels, input_ids=sequence, attention_mask=torch.ones_like(sequence)).logits
        return out[:, prompt_length - 1:sequence.shape[1] - 1].float()

    # The unquantized model, as reference.py makes it.
    torch.cuda.synchronize()
    allocated, gpu = torch.cuda.memory_allocated(), gpu_used_mb()
    start = time.perf_counter()
    model = bench.model(args.config)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    pixels = bench.pixels(model, 1)
    ids, mask = bench.caption_prompt(model, 1)
    with torch.inference_mode():
        out = bench.generate(model, pixels, ids, mask, FIDELITY_TOKENS, 1)
    sequence = torch.cat([ids, out[:, -FIDELITY_TOKENS:]], 1)
    reference_logits = logits(model, pixels, sequence, ids.shape[1])
    measure(args.dtype, model, allocated, gpu, seconds)

    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except Exception as error:  # report and stop: the unquantized line above still stands
        report("bitsandbytes", "error", None, "", error=f"{type(error).__name__}: {error}")
        return 0
    folder = tempfile.mkdtemp(prefix="blip2-bnb-", dir=args.dir)
    failed = 0
    try:
        start = time.perf_counter()
        model.save_pretrained(folder, safe_serialization=True)
        report("save", "seconds", time.perf_counter() - start, "s", bitsandbytes=bitsandbytes.__version__)
        cls = type(model)
        configs = {
            "int8": lambda: BitsAndBytesConfig(load_in_8bit=True),
            "nf4": lambda: BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype),
            "fp4": lambda: BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="fp4", bnb_4bit_compute_dtype=dtype),
        }
        for name in args.variants.split(","):
            variant = f"bnb {name}"
            try:
                torch.cuda.synchronize()
                allocated, gpu = torch.cuda.memory_allocated(), gpu_used_mb()
                start = time.perf_counter()
                quantized = cls.from_pretrained(folder, quantization_config=configs[name](), dtype=dtype, device_map={"": 0})
                quantized.eval()
                torch.cuda.synchronize()
                measure(variant, quantized, allocated, gpu, time.perf_counter() - start, reference_logits, sequence)
                del quantized
                torch.cuda.empty_cache()
            except Exception as error:  # report and go on with the other variants
                failed += 1
                report(variant, "error", None, "", error=f"{type(error).__name__}: {error}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
