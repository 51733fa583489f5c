faults kernel.plw
