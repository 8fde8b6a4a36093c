"""Reference figures for bench/runner.mjs: Hugging Face transformers (generate-free forward loop,
the same shapes as the runner's) and sentence-transformers, on CPU, on the same weights.

    python3 bench/runner_reference.py llama|gguf|minilm PATH PROMPT_TOKENS NEW_TOKENS
"""
import json
import os
import resource
import sys
import time

import torch

kind, path, prompt_tokens, new_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_grad_enabled(False)


def peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


if kind == "minilm":
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path, device="cpu")
    sentences = [f"Query {i}: find the weather forecast and hotel prices for a trip to city number {i} next week." for i in range(256)]
    model.encode(sentences[:32])
    started = time.perf_counter()
    model.encode(sentences, batch_size=32)
    seconds = time.perf_counter() - started
    print(json.dumps({"engine": "sentence-transformers", "sentences_per_s": round(len(sentences) / seconds, 1), "peak_rss_mb": peak_rss_mb()}))
    sys.exit(0)

from transformers import AutoModelForCausalLM

if kind == "gguf":
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path), torch_dtype=torch.float32)
else:
    model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32)
model.eval()
vocab = model.config.vocab_size
runs = []
for batch in (1, 8):
    rows = torch.tensor([[1 + ((row * 7919 + index * 104729) % (vocab - 1)) for index in range(prompt_tokens)] for row in range(batch)])
    started = time.perf_counter()
    # the last position's logits only, as generate() does and as the runner's prefill asks
    out = model(input_ids=rows, use_cache=True, logits_to_keep=1)
    prefill = time.perf_counter() - started
    nxt = out.logits[:, -1].argmax(-1, keepdim=True)
    first = time.perf_counter() - started
    past = out.past_key_values
    decode_started = time.perf_counter()
    for _ in range(new_tokens - 1):
        out = model(input_ids=nxt, past_key_values=past, use_cache=True)
        past = out.past_key_values
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)
    decode = time.perf_counter() - decode_started
    runs.append({"batch": batch, "prefill_tokens_per_s": round(batch * prompt_tokens / prefill, 1), "time_to_first_token_ms": round(first * 1000, 1), "decode_tokens_per_s": round(batch * (new_tokens - 1) / decode, 1)})
print(json.dumps({"engine": f"transformers {__import__('transformers').__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads", "runs": runs, "peak_rss_mb": peak_rss_mb()}))
