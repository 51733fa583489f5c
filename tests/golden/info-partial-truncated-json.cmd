info --json partial-truncated.plw
