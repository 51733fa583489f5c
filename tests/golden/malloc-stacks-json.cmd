malloc --json stacks_native.plw
