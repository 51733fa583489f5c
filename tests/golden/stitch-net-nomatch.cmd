stitch --trace 0000 net-a.plw net-b.plw
