flow --last notp-a.plw notp-b.plw notp-c.plw
