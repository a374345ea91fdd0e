#!/usr/bin/env bash
# Installs what `make drill` needs from Debian's packages when it is missing: PostgreSQL 15,
# pg_auto_failover (its monitor extension and pg_autoctl) and nginx. Needs root to install (CI runs
# as root); with everything present it does nothing.
set -euo pipefail

need=()
[[ -x /usr/lib/postgresql/15/bin/pg_ctl ]] || need+=(postgresql-15)
[[ -f /usr/share/postgresql/15/extension/pgautofailover.control ]] \
    || need+=(postgresql-15-auto-failover)
command -v pg_autoctl >/dev/null 2>&1 || need+=(pg-auto-failover-cli)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)

if ((${#need[@]} == 0)); then
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    printf 'make drill needs these Debian packages: %s (install them as root)\n' "${need[*]}" >&2
    exit 1
fi
printf 'Installing %s\n' "${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
