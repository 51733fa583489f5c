flow --all --json kgroups.plw
