timeline --json kgroups.plw
