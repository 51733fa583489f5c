flow --all kgroups.plw
