hosts net-a.plw net-b.plw basic.plw
