hosts --json net-b.plw net-a.plw basic.plw
