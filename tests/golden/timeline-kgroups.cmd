timeline kgroups.plw
