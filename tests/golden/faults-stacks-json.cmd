faults --json stacks_native.plw
