timeline --json stacks.plw
