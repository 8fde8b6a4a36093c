#!/usr/bin/env python3
"""Hugging Face reference outputs for the golden tests (used only where torch/transformers import).

Reads one JSON request, or a JSON list of requests, on stdin and prints the answer (or the list
of answers) as JSON on stdout. Nothing is downloaded: checkpoints are local directories.

  {"dir": D, "kind": "llama", "ids": [[...]], "attention_mask"?: [[...]], "position_ids"?: [[...]]}
      -> {"logits": [batch][seq][vocab]}                    AutoModelForCausalLM, float32, eager
  {"dir": D, "kind": "bert", "ids": [[...]], "attention_mask"?: [[...]], "token_type_ids"?: [[...]]}
      -> {"last_hidden_state": [batch][seq][hidden], "embeddings": [batch][hidden]}
         AutoModel, float32, eager; embeddings = masked mean pooling, then L2 normalisation
  {"mode": "tokenize", "dir" | "tokenizer": PATH, "texts": [...], "pairs"?: [...],
   "add_special_tokens"?: true}
      -> {"ids": [[...]], "tokens": [[...]], "type_ids": [[...]]}   tokenizers.Tokenizer.from_file
  {"mode": "sentence-transformers", "dir": D, "texts": [...]}
      -> {"embeddings": [[...]]}                             SentenceTransformer(D).encode
  {"mode": "versions"} -> {"torch": ..., "transformers": ..., ...}
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

_models = {}


def _load_kwargs():
    import torch
    import transformers

    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    dtype_key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    return {dtype_key: torch.float32, "attn_implementation": "eager"}


def _model(directory, kind):
    key = (directory, kind)
    if key not in _models:
        from transformers import AutoModel, AutoModelForCausalLM

        loader = AutoModelForCausalLM if kind == "llama" else AutoModel
        _models[key] = loader.from_pretrained(directory, **_load_kwargs()).eval()
    return _models[key]


def forward(request):
    import torch

    kind = request["kind"]
    if kind not in ("llama", "bert"):
        raise ValueError(f"unknown kind {kind!r}")
    ids = torch.tensor(request["ids"], dtype=torch.long)
    mask = request.get("attention_mask")
    mask = torch.ones_like(ids) if mask is None else torch.tensor(mask, dtype=torch.long)
    inputs = {"input_ids": ids, "attention_mask": mask}
    model = _model(request["dir"], kind)
    with torch.no_grad():
        if kind == "llama":
            if request.get("position_ids") is not None:
                inputs["position_ids"] = torch.tensor(request["position_ids"], dtype=torch.long)
            output = model(**inputs, use_cache=False)
            return {"logits": output.logits.float().tolist()}
        if request.get("token_type_ids") is not None:
            inputs["token_type_ids"] = torch.tensor(request["token_type_ids"], dtype=torch.long)
        hidden = model(**inputs).last_hidden_state.float()
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        embeddings = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return {"last_hidden_state": hidden.tolist(), "embeddings": embeddings.tolist()}


def tokenize(request):
    from tokenizers import Tokenizer

    path = request.get("tokenizer") or os.path.join(request["dir"], "tokenizer.json")
    tokenizer = Tokenizer.from_file(path)
    add_special_tokens = request.get("add_special_tokens", True)
    pairs = request.get("pairs") or [None] * len(request["texts"])
    encodings = [
        tokenizer.encode(text, pair, add_special_tokens=add_special_tokens)
        for text, pair in zip(request["texts"], pairs)
    ]
    return {
        "ids": [encoding.ids for encoding in encodings],
        "tokens": [encoding.tokens for encoding in encodings],
        "type_ids": [encoding.type_ids for encoding in encodings],
    }


def sentence_transformers(request):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(request["dir"], device="cpu")
    embeddings = model.encode(request["texts"], convert_to_numpy=True, batch_size=len(request["texts"]))
    return {"embeddings": embeddings.astype("float64").tolist()}


def versions(_request):
    found = {}
    for name in ("torch", "transformers", "tokenizers", "sentence_transformers"):
        try:
            found[name] = __import__(name).__version__
        except ImportError:
            found[name] = None
    return found


MODES = {"forward": forward, "tokenize": tokenize, "sentence-transformers": sentence_transformers, "versions": versions}


def answer(request):
    return MODES[request.get("mode", "forward")](request)


def main():
    request = json.load(sys.stdin)
    result = [answer(item) for item in request] if isinstance(request, list) else answer(request)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
