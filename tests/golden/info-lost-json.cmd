info --json lost.plw
