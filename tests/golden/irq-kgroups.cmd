irq kgroups.plw
