io kgroups.plw
