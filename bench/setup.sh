#!/usr/bin/env bash
# Installs what the benchmarks need from Debian's packages when it is missing: wrk (the load
# generator of bench/run.py, ab.py and getcpu.py) and valgrind (bench/instructions.py). Needs root
# to install; with both present it does nothing.
set -euo pipefail

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v callgrind_control >/dev/null 2>&1 || need+=(valgrind)

if ((${#need[@]} == 0)); then
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    printf 'the benchmarks need these Debian packages: %s (install them as root)\n' "${need[*]}" >&2
    exit 1
fi
printf 'Installing %s\n' "${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
