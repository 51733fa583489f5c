malloc stacks_native.plw
