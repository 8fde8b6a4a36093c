#!/usr/bin/env bash
# Creates (once) the Python virtual environment the golden checks against Hugging Face use, from
# PyPI, and prints its interpreter: TOOLBENCH_GOLDEN_PYTHON=$(scripts/golden-venv.sh).
#
#   scripts/golden-venv.sh [venv dir]      default ~/.cache/toolbench/golden-venv
#
# The environment is keyed by test/golden/requirements.txt: a changed pin builds a new one. It is
# built beside its final place and renamed into it, so an interrupted install leaves nothing half
# made. torch from PyPI brings the CUDA runtime wheels along (about 6 GB in all).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
requirements="$root/test/golden/requirements.txt"
key=$(sha256sum "$requirements" | cut -c1-12)
venv="${1:-${TOOLBENCH_GOLDEN_VENV:-$HOME/.cache/toolbench/golden-venv}}-$key"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  partial="$venv.partial"
  rm -rf "$partial"
  echo "golden-venv: installing test/golden/requirements.txt into $venv" >&2
  "$python" -m venv "$partial"
  "$partial/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
  # only bin/python is used afterwards; it finds the environment wherever the folder is
  mv "$partial" "$venv"
fi
"$venv/bin/python" -c 'import torch, transformers, tokenizers, sentence_transformers' >&2
echo "$venv/bin/python"
