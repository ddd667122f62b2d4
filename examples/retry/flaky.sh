#!/bin/sh
# flaky.sh COUNT_FILE FAILURES
#
# Stands in for a service that is not ready yet: each call adds one to the
# number kept in COUNT_FILE, and the first FAILURES calls fail (exit 1).
# The calls after that succeed and print which call it was.
set -eu
count_file=$1
failures=$2
n=0
if [ -s "$count_file" ]; then
	n=$(cat "$count_file")
fi
n=$((n + 1))
echo "$n" >"$count_file"
if [ "$n" -le "$failures" ]; then
	echo "call $n: service unavailable" >&2
	exit 1
fi
echo "call $n: ok"
