irq --json kgroups.plw
