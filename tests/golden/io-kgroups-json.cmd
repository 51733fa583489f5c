io --json kgroups.plw
