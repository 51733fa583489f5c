io --json stacks_native.plw
