info --json unordered.plw
