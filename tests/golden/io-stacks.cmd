io stacks_native.plw
