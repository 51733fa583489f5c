stitch --json net-a.plw net-b.plw
