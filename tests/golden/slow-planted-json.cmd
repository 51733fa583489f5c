slow --json ana-slow.plw
