#!/usr/bin/env bash
# One night of incremental near-duplicate removal: tonight's crawl against every earlier night.
#
#   examples/nightly.sh CRAWL_ROOT DEDUP_ROOT INDEX [DATE]
#
# Reads CRAWL_ROOT/DATE (default: today), writes DEDUP_ROOT/DATE, and adds tonight's survivors to the
# persistent index INDEX (only once DEDUP_ROOT/DATE is published). stdout: one JSON summary; logs:
# stderr. Exit codes are curate's: 0 done (or already done), 75 another run holds the output or the
# index (nothing written: try again later), 1 failed, 2 usage (e.g. the index was built with other
# options), 3 bad input. Killed runs resume: cron can simply retry the same line (see the README).
# CURATE: the curate to run (cron's PATH holds no virtualenv; default: curate on PATH).
set -u
crawl=${1:?CRAWL_ROOT}
dedup=${2:?DEDUP_ROOT}
index=${3:?INDEX}
night=${4:-$(date +%F)}
if [ ! -d "$crawl/$night" ]; then
  echo "nightly: no crawl for $night in $crawl" >&2
  exit 2
fi
# --keep min:night --survivors keep-rule: earlier nights' documents are published and rank first,
# so the incremental nights keep exactly what one run over every night would keep. The night column
# must exist in the crawl (an integer that grows, e.g. 20261202).
exec "${CURATE:-curate}" -q dedup minhash "$crawl/$night" "$dedup/$night" \
  --index "$index" --keep min:night --survivors keep-rule --id-column id --json
