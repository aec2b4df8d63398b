#!/usr/bin/env python3
"""The Hugging Face reference for bench/Blip2Compiler.Bench: same configs (bench/Blip2Compiler.Bench/Configs), random
weights, same measurements, same JSON lines (impl "hf").

    python3 bench/reference.py all --config opt-2.7b --device cuda --dtype float16 --warmup 2 --iterations 10

Needs torch and transformers 5.x. Benchmarks: caption, decode-token, beam, caption-batch, image-encoding, itm, itc
(gemm-floor and preprocess are ours only). `--compile` adds caption-static-compiled: a static KV cache and the
language model under torch.compile, the fastest reference setup.
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import time

import torch
import transformers
from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2ForImageTextRetrieval

CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Blip2Compiler.Bench", "Configs")
CAPTION_TOKENS = 30
TEXT_TOKENS = 32
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
RETRIEVAL = {"mid": "mid-itm", "mid-t5": "mid-itm", "mid-itm": "mid-itm"}  # others: itm-vit-g


def is_retrieval(config_name):
    return config_name in ("mid-itm", "itm-vit-g")


class Bench:
    def __init__(self, args):
        self.args = args
        self.device = torch.device(args.device)
        self.dtype = DTYPES[args.dtype]
        self.models = {}

    # ---- models and inputs -------------------------------------------------------------------------------------
    def model(self, name):
        if name in self.models:
            return self.models[name]
        self.models.clear()  # one large model at a time
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        config = Blip2Config.from_pretrained(os.path.join(CONFIGS, name))
        cls = Blip2ForImageTextRetrieval if "Blip2ForImageTextRetrieval" in (config.architectures or []) else Blip2ForConditionalGeneration
        torch.manual_seed(0)
        with self.device:  # random weights made on the device, as CreateRandom
            model = cls(config)
        model.to(self.dtype)
        # As from_pretrained(dtype=...) and our runtime: the Q-Former and the query tokens stay float32.
        for module_name in getattr(model, "_keep_in_fp32_modules", None) or []:
            part = getattr(model, module_name, None)
            if isinstance(part, torch.nn.Parameter):
                part.data = part.data.float()
            elif part is not None:
                part.float()
        model.eval()
        self.models[name] = model
        return model

    def pixels(self, model, batch):
        size = model.config.vision_config.image_size
        generator = torch.Generator(device=self.device).manual_seed(1234)
        return torch.randn(batch, 3, size, size, generator=generator, device=self.device, dtype=self.dtype)

    def caption_prompt(self, model, batch):
        """What Blip2Processor builds for an image and no text: image tokens, then BOS (OPT) or EOS (T5)."""
        config = model.config
        row = []
        if getattr(config, "image_token_index", None) is not None:
            row += [config.image_token_index] * config.num_query_tokens
        text = config.text_config
        row.append(text.eos_token_id if config.use_decoder_only_language_model is False else text.bos_token_id)
        ids = torch.tensor([row] * batch, dtype=torch.long, device=self.device)
        return ids, torch.ones_like(ids)

    def text(self, batch):
        ids = torch.arange(1000, 1000 + batch * TEXT_TOKENS, dtype=torch.long, device=self.device).reshape(batch, TEXT_TOKENS)
        ids[:, 0] = 101
        return ids, torch.ones_like(ids)

    # ---- measuring and reporting ---------------------------------------------------------------------------------
    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def time(self, fn):
        with torch.inference_mode():
            for _ in range(self.args.warmup):
                fn()
            self.sync()
            samples = []
            for _ in range(self.args.iterations):
                start = time.perf_counter()
                fn()
                self.sync()
                samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples), min(samples)

    def report(self, name, config, batch, metric, value, unit, **extra):
        line = {"impl": "hf", "name": name, "config": config, "device": self.device.type, "dtype": self.args.dtype,
                "batch": batch, "metric": metric, "value": round(value, 4), "unit": unit}
        line.update({k: round(v, 4) if isinstance(v, float) else v for k, v in extra.items()})
        line.update({"threads": torch.get_num_threads(), "iterations": self.args.iterations,
                     "torch": torch.__version__, "transformers": transformers.__version__,
                     "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat()})
        print(json.dumps(line), flush=True)

    def generate(self, model, pixels, ids, mask, tokens, beams, **kwargs):
        return model.generate(pixel_values=pixels, input_ids=ids, attention_mask=mask, max_new_tokens=tokens,
                              min_new_tokens=tokens, num_beams=beams, do_sample=False, **kwargs)

    # ---- benchmarks (same names, cases and metrics as the C# ones) ---------------------------------------------
    def caption(self, config):
        model = self.model(config)
        pixels = self.pixels(model, 1)
        ids, mask = self.caption_prompt(model, 1)
        median, best = self.time(lambda: self.generate(model, pixels, ids, mask, CAPTION_TOKENS, 1))
        self.report("caption", config, 1, "latency", median, "ms", best=best, new_tokens=CAPTION_TOKENS)

    def decode_token(self, config):
        model = self.model(config)
        pixels = self.pixels(model, 1)
        ids, mask = self.caption_prompt(model, 1)
        prefill, prefill_best = self.time(lambda: self.generate(model, pixels, ids, mask, 1, 1))
        total, _ = self.time(lambda: self.generate(model, pixels, ids, mask, CAPTION_TOKENS, 1))
        self.report("decode-token", config, 1, "per_token", (total - prefill) / (CAPTION_TOKENS - 1), "ms",
                    prefill_ms=prefill, total_ms=total, new_tokens=CAPTION_TOKENS)
        self.report("decode-token", config, 1, "prefill", prefill, "ms", best=prefill_best)

    def beam(self, config):
        model = self.model(config)
        pixels = self.pixels(model, 1)
        ids, mask = self.caption_prompt(model, 1)
        median, best = self.time(lambda: self.generate(model, pixels, ids, mask, CAPTION_TOKENS, 5))
        self.report("beam", config, 1, "latency", median, "ms", best=best, beams=5, new_tokens=CAPTION_TOKENS)

    def caption_batch(self, config):
        model = self.model(config)
        pixels = self.pixels(model, 8)
        ids, mask = self.caption_prompt(model, 8)
        median, _ = self.time(lambda: self.generate(model, pixels, ids, mask, CAPTION_TOKENS, 1))
        self.report("caption-batch", config, 8, "throughput", 8 * 1000 / median, "captions/s", latency_ms=median,
                    new_tokens=CAPTION_TOKENS)

    def caption_static_compiled(self, config):
        """transformers' fastest setup: a static KV cache, with which generate compiles the decoding step itself
        (torch.compile with CUDA graphs). A hand-made torch.compile(mode="reduce-overhead") of the language model
        fails in transformers 5.17 (CUDA-graph outputs overwritten by the cache's in-place update)."""
        model = self.model(config)
        pixels = self.pixels(model, 1)
        ids, mask = self.caption_prompt(model, 1)
        run = lambda: self.generate(model, pixels, ids, mask, CAPTION_TOKENS, 1, cache_implementation="static")
        with torch.inference_mode():
            for _ in range(3):  # compilation and graph capture, not timed
                run()
        median, best = self.time(run)
        self.report("caption-static-compiled", config, 1, "latency", median, "ms", best=best, new_tokens=CAPTION_TOKENS)

    def encode(self, model, pixels):
        """Vision + Q-Former + projection: the language projection, or the normalized vision projection (retrieval)."""
        image = model.vision_model(pixel_values=pixels, return_dict=True).last_hidden_state
        image_mask = torch.ones(image.shape[:-1], dtype=torch.long, device=image.device)
        queries = model.query_tokens.expand(image.shape[0], -1, -1)
        qformer_dtype = next(model.qformer.parameters()).dtype  # float32 in half-precision runs
        output = model.qformer(query_embeds=queries.to(qformer_dtype), encoder_hidden_states=image.to(qformer_dtype),
                               encoder_attention_mask=image_mask,
                               return_dict=True).last_hidden_state
        if isinstance(model, Blip2ForImageTextRetrieval):
            return torch.nn.functional.normalize(model.vision_projection(output.to(model.vision_projection.weight.dtype)), dim=-1)
        return model.language_projection(output.to(model.language_projection.weight.dtype))

    def image_encoding(self, config):
        model = self.model(config)
        for batch in (1, 32):
            pixels = self.pixels(model, batch)
            median, best = self.time(lambda: self.encode(model, pixels))
            if batch == 1:
                self.report("image-encoding", config, batch, "latency", median, "ms", best=best)
            else:
                self.report("image-encoding", config, batch, "throughput", batch * 1000 / median, "images/s", latency_ms=median)

    def retrieval(self, config, name, matching):
        config = RETRIEVAL.get(config, "itm-vit-g")
        model = self.model(config)
        pixels = self.pixels(model, 32)
        ids, mask = self.text(32)
        median, _ = self.time(lambda: model(pixel_values=pixels, input_ids=ids, attention_mask=mask,
                                            use_image_text_matching_head=matching))
        self.report(name, config, 32, "throughput", 32 * 1000 / median, "pairs/s", latency_ms=median, text_tokens=TEXT_TOKENS)

    def run(self, name):
        config = self.args.config
        generating = {"caption": self.caption, "decode-token": self.decode_token, "beam": self.beam,
                      "caption-batch": self.caption_batch, "caption-static-compiled": self.caption_static_compiled}
        if name in generating:
            if is_retrieval(config):
                print(f"{name}: {config} does not generate; skipped", file=sys.stderr)
                return
            generating[name](config)
        elif name == "image-encoding":
            self.image_encoding(config)
        elif name == "itm":
            self.retrieval(config, "itm", True)
        elif name == "itc":
            self.retrieval(config, "itc", False)
        else:
            raise SystemExit(f"unknown benchmark '{name}'")


def main():
    names = ["beam", "caption", "caption-batch", "decode-token", "image-encoding", "itc", "itm"]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", help="all, or one or more (comma-separated) of: " + ", ".join(names + ["caption-static-compiled"]))
    parser.add_argument("--config", default="mid", choices=["mid", "mid-t5", "mid-itm", "opt-2.7b", "flan-t5-xl", "itm-vit-g"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=list(DTYPES))
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    parser.add_argument("--compile", action="store_true", help="with `all`: also caption-static-compiled")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    bench = Bench(args)
    # all, one benchmark, or several joined by commas (one process, one model: caption,decode-token)
    selected = names + (["caption-static-compiled"] if args.compile else []) if args.benchmark == "all" else args.benchmark.split(",")
    failed = 0
    for name in selected:
        try:
            bench.run(name)
        except Exception as error:  # report and go on with the other benchmarks
            failed += 1
            print(f"{name}: {type(error).__name__}: {error}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
