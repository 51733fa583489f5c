faults kgroups.plw
