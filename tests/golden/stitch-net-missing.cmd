stitch net-a.plw net-b.plw
