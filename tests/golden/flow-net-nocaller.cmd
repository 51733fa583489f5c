flow --all net-b.plw net-c.plw
