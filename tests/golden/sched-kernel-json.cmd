sched --json kernel.plw
