timeline --json stacks_native.plw
