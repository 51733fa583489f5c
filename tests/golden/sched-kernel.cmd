sched kernel.plw
