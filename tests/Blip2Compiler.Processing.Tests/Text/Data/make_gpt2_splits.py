"""Writes gpt2_splits.json: texts and their GPT-2 pre-tokenizer pieces, split by Python's `regex` module with
GPT-2's pattern (as openai/gpt-2's encoder.py and HF tokenizers' ByteLevel pre-tokenizer). Rerun to regenerate:
python3 make_gpt2_splits.py"""
import json
import random

import regex

PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

cases = [
    "Question: what is in the picture? Answer:",
    "it's   three  spaces\tand a tab\n\nnew lines  ",
    "𝐀bc def",                       # a mathematical letter outside the BMP, then letters
    "x𠀀y 𠀀",                        # a CJK extension B ideograph inside and after a word
    "a 𝟙2 𐌰𐌱",                        # a double-struck digit (Nd) and Gothic letters
    "hi 😀😀 ok!",                     # emoji: symbols, not letters
    "don't they'll we're I'm you've she'd",
    "  leading and trailing  ",
    "3.14159 and ١٢٣ (Arabic-Indic digits)",
    "naïve café — déjà vu",
    "\u3000ideographic space\u00a0nbsp",
]
pool = list("ab Z9 '\t\n.!?-") + ["𝐀", "𠀀", "𝟙", "😀", "é", "١", "\u00a0", "'s", "'ll"]
rng = random.Random(7)
for _ in range(200):
    cases.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 14))))

with open("gpt2_splits.json", "w", encoding="utf-8") as f:
    json.dump([{"text": t, "pieces": PATTERN.findall(t)} for t in cases], f, ensure_ascii=False, indent=0)
print(len(cases), "cases")
