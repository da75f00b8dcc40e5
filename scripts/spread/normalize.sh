#!/usr/bin/env bash
# Normalizes spclient transcripts so that two runs (or Spread and chorusd) can be diffed:
#   scripts/spread/normalize.sh [FILE...]       (stdin when no FILE) -> stdout
# - drops comment lines ("# ..."): golden files carry their header there
# - group ids: each distinct gid=A:B:C becomes gid=G1, G2, ... in order of first appearance
#   (applications can only compare group ids, SP_equal_group_ids; the values are the daemon's)
# - private names the daemon made up for a connect without a name (#r1234-5#d1) become #r*#d1
# - the t=<ms> field of --ts
# - lines marked "?" (results of commands the scenario marked as timing-dependent with "? ")
set -euo pipefail
awk '
/^#/ { next }
/^\?/ { next }
{
    gsub(/#r[0-9]+-[0-9]+#/, "#r*#")
    if ($0 ~ /^> /) { print; next }
    out = ""
    for (i = 1; i <= NF; i++) {
        f = $i
        if (f ~ /^t=[0-9]+$/) continue
        if (f ~ /^gid=/ && f != "gid=-") {  # "-": no group id (SpJClient: getGroupID() null)
            v = substr(f, 5)
            if (!(v in gids)) gids[v] = "G" (++ngid)
            f = "gid=" gids[v]
        }
        out = out (out == "" ? "" : " ") f
    }
    print out
}' "$@"
