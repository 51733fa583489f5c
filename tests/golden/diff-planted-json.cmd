diff --json --before ana-diff-before.plw --after ana-diff-after.plw
