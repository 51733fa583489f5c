tlb kgroups.plw
