timeline stacks.plw
