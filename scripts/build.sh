#!/usr/bin/env bash
# Configures and builds regionlab into ./build (Release with debug info, ninja,
# ccache), warnings as errors (development and CI builds).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREGIONLAB_WERROR=ON >&2
cmake --build build -j "$(nproc)" >&2
