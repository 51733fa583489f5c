stitch --trace 4bf92f3577b34da6a3ce929d0e0e4702 net-a.plw netshift-b.plw net-c.plw
