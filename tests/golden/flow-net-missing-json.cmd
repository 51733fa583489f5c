flow --last --json net-a.plw net-b.plw
