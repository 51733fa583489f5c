offcpu stacks.plw
