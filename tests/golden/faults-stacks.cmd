faults stacks_native.plw
