timeline stacks_native.plw
