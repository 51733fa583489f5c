flow --top 1 net-a.plw netshift-b.plw net-c.plw
