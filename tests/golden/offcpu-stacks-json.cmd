offcpu --json stacks.plw
