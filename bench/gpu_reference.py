"""The Python side of bench/gpu.mjs: a random LLaMA-shaped checkpoint, and Hugging Face transformers'
generate() on it, on the GPU when torch has one (else the CPU, in float32, for a check of the
script itself).

    python3 bench/gpu_reference.py make DIR 7b|7b-2l|tiny
    python3 bench/gpu_reference.py generate DIR PROMPT_TOKENS NEW_TOKENS
"""
import json
import sys
import time

import torch

SHAPES = {
    # LLaMA-2-7B (ToolLLaMA-2-7b-v2's shape)
    "7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32),
    # the 7B widths with 2 layers (1.3 GB in float16): a quick first run on a new machine
    "7b-2l": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=2, num_attention_heads=32, num_key_value_heads=32),
    "tiny": dict(hidden_size=64, intermediate_size=172, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2),
}


def device_and_dtype():
    return ("cuda", torch.float16) if torch.cuda.is_available() else ("cpu", torch.float32)


def make(path, shape):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=32000, max_position_embeddings=4096, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False, **SHAPES[shape])
    device, _ = device_and_dtype()
    with torch.device(device):
        model = LlamaForCausalLM(config).to(torch.float16)
    model.save_pretrained(path, safe_serialization=True, max_shard_size="5GB")
    print(json.dumps({"made": path, "shape": shape, "parameters": sum(p.numel() for p in model.parameters())}))


def timed(call, device):
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    call()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def generate(path, prompt_tokens, new_tokens):
    from transformers import AutoModelForCausalLM

    device, dtype = device_and_dtype()
    model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=dtype).to(device).eval()
    vocab = model.config.vocab_size
    ids = torch.tensor([[3 + (index * 104729) % (vocab - 3) for index in range(prompt_tokens)]], device=device)
    # greedy, exactly n new tokens (an end token does not stop it), the KV cache on
    run = lambda n: model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False, use_cache=True, pad_token_id=0)
    with torch.no_grad():
        run(4)
        first = timed(lambda: run(1), device)
        whole = timed(lambda: run(new_tokens), device)
    print(json.dumps({
        "engine": f"transformers {__import__('transformers').__version__} generate(), torch {torch.__version__}",
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "dtype": str(dtype).replace("torch.", ""),
        "prompt_tokens": prompt_tokens,
        "new_tokens": new_tokens,
        "time_to_first_token_ms": round(first * 1000, 1),
        "decode_tokens_per_s": round((new_tokens - 1) / (whole - first), 2),
    }))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "make":
        make(sys.argv[2], sys.argv[3])
    elif command == "generate":
        generate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(f"unknown command {command}: make or generate")
