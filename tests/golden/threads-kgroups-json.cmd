threads --json kgroups.plw
