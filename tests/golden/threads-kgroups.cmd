threads kgroups.plw
