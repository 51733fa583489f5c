flow --last --json notp-a.plw notp-b.plw notp-c.plw
