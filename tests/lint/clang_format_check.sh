#!/usr/bin/env bash
# Fails, listing the files, when any C source or header differs from what
# clang-format makes of it.
set -u
top=$1
cd "$top" || exit 1
fmt=$(command -v clang-format || command -v clang-format-14) || { echo "clang-format not installed"; exit 1; }
bad=()
while IFS= read -r -d '' f; do
    "$fmt" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(find common conf edge gateway ipc tests -name '*.[ch]' -not -path '*/node_modules/*' -print0 2>/dev/null)
if [ ${#bad[@]} -gt 0 ]; then
    echo "not clang-formatted (run clang-format -i):"
    printf '  %s\n' "${bad[@]}"
    exit 1
fi
echo "all C files follow .clang-format"
