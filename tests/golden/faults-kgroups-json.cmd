faults --json kgroups.plw
