diff --all ana-diff-before.plw -- ana-diff-after.plw
