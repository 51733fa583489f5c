slow --json lost.plw
