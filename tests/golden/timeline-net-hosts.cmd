timeline net-a.plw netshift-b.plw net-c.plw
