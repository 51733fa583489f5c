tlb --json kgroups.plw
