hosts basic.plw netshift-b.plw net-c.plw
