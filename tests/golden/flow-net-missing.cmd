flow --last net-a.plw net-b.plw
