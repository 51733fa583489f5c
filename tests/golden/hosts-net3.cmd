hosts net-a.plw net-b.plw net-c.plw
